//! Image preprocessing that reproduces Hugging Face transformers'
//! `CLIPImageProcessorPil` (the PIL/NumPy path of `CLIPImageProcessor`) with
//! Pillow 12.3.0, pixel for pixel:
//!
//! 1. decode, apply the EXIF orientation (`ImageOps.exif_transpose`);
//! 2. convert to RGB: images with transparency are composited over opaque
//!    white with Pillow's integer `alpha_composite`, grayscale is replicated;
//! 3. resize so the shortest edge is `shortest_edge` (the long edge is
//!    `int(N * long / short)`, truncated) with Pillow's BICUBIC resampler,
//!    ported bit-exactly in [`resize_bicubic_pil`];
//! 4. center crop at `floor((h - crop_h) / 2)`, padding with zeros where the
//!    image is smaller than the crop;
//! 5. rescale (`u8 as f64 * factor`, then cast to `f32`) and normalize
//!    (`(x - mean) / std` in `f32`), as NumPy does it; output is CHW.
//!
//! The resampler, the alpha compositing, the crop and the arithmetic of
//! steps 4-5 give bit-identical values to transformers, and so do the decoded
//! pixels of PNG (8- and 16-bit, palette, tRNS, APNG), GIF and WebP (lossless
//! and lossy). JPEG is the exception: zune-jpeg and Pillow's libjpeg-turbo
//! differ in IDCT rounding and chroma upsampling, by up to about 4 levels on
//! some pixels of 4:2:0 files (1-2 levels for 4:4:4 and grayscale).
//!
//! One deliberate quirk is kept: Pillow opens 16-bit grayscale PNGs as
//! `I;16` and its conversion to RGB clips values to 255 instead of scaling
//! them, so such images come out nearly white, exactly as in transformers.

use std::io::Cursor;
use std::ops::Range;

use image::{DynamicImage, ImageDecoder, ImageReader, Limits, RgbImage};
use serde_json::Value;

use crate::error::{Error, Result};

/// OpenAI CLIP's per-channel mean (RGB), as in transformers' `OPENAI_CLIP_MEAN`.
pub const CLIP_MEAN: [f32; 3] = [0.481_454_66, 0.457_827_5, 0.408_210_73];
/// OpenAI CLIP's per-channel standard deviation (RGB), `OPENAI_CLIP_STD`.
#[allow(clippy::excessive_precision)] // the digits transformers writes
pub const CLIP_STD: [f32; 3] = [0.268_629_54, 0.261_302_58, 0.275_777_11];

/// Largest width or height accepted from an image file.
pub const MAX_IMAGE_SIDE: u32 = 32_768;
/// Largest number of pixels accepted from an image file (64 megapixels).
pub const MAX_IMAGE_PIXELS: u64 = 64 * 1024 * 1024;
/// Largest decoded buffer accepted (all channels and bit depths counted).
pub const MAX_DECODED_BYTES: u64 = 512 * 1024 * 1024;

/// Pillow's `Resampling.BICUBIC`, the only filter this module implements.
const PIL_BICUBIC: i64 = 3;

/// preprocessor_config.json of the Hugging Face layout (`CLIPImageProcessor`).
///
/// Unknown fields are ignored. `size` may be `{"shortest_edge": N}` or an int
/// (older configs); `crop_size` may be `{"height": H, "width": W}`, an int or
/// `[H, W]`. Missing fields take `CLIPImageProcessor`'s defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct PreprocessConfig {
    pub shortest_edge: u32,
    pub crop_height: u32,
    pub crop_width: u32,
    pub do_resize: bool,
    pub do_center_crop: bool,
    pub do_rescale: bool,
    pub rescale_factor: f32,
    pub do_normalize: bool,
    pub image_mean: [f32; 3],
    pub image_std: [f32; 3],
    /// Images always come out of [`decode_image`] as RGB; with `false`
    /// transformers would keep other modes and fail on them later, so the
    /// flag only matters for the record.
    pub do_convert_rgb: bool,
}

impl PreprocessConfig {
    /// OpenAI's CLIP settings for a model whose images are `size`×`size`.
    pub fn clip_default(size: u32) -> Self {
        Self {
            shortest_edge: size,
            crop_height: size,
            crop_width: size,
            do_resize: true,
            do_center_crop: true,
            do_rescale: true,
            rescale_factor: (1.0f64 / 255.0) as f32,
            do_normalize: true,
            image_mean: CLIP_MEAN,
            image_std: CLIP_STD,
            do_convert_rgb: true,
        }
    }

    /// preprocessor_config.json as transformers writes it for `CLIPImageProcessor`.
    pub fn to_json(&self) -> String {
        let value = serde_json::json!({
            "image_processor_type": "CLIPImageProcessor",
            "do_resize": self.do_resize,
            "size": {"shortest_edge": self.shortest_edge},
            "resample": 3,
            "do_center_crop": self.do_center_crop,
            "crop_size": {"height": self.crop_height, "width": self.crop_width},
            "do_rescale": self.do_rescale,
            "rescale_factor": self.rescale_factor,
            "do_normalize": self.do_normalize,
            "image_mean": self.image_mean,
            "image_std": self.image_std,
            "do_convert_rgb": self.do_convert_rgb,
        });
        serde_json::to_string_pretty(&value).expect("a config serializes")
    }

    /// Parses preprocessor_config.json; errors name `file_name`.
    pub fn from_json(text: &str, file_name: &str) -> Result<Self> {
        let fail = |message: String| Error::Config {
            file: file_name.to_string(),
            message,
        };
        let root: Value =
            serde_json::from_str(text).map_err(|e| fail(format!("not valid JSON: {e}")))?;
        let obj = root
            .as_object()
            .ok_or_else(|| fail("expected a JSON object".into()))?;
        let field = |key: &str| obj.get(key).filter(|v| !v.is_null());
        let flag = |key: &str, default: bool| -> Result<bool> {
            match field(key) {
                None => Ok(default),
                Some(v) => v
                    .as_bool()
                    .ok_or_else(|| fail(format!("`{key}` must be true or false, got {v}"))),
            }
        };

        let mut cfg = Self::clip_default(224);

        if let Some(size) = field("size") {
            cfg.shortest_edge =
                parse_shortest_edge(size).map_err(|m| fail(format!("`size` {m}")))?;
        }
        if let Some(crop) = field("crop_size") {
            let (h, w) = parse_crop_size(crop).map_err(|m| fail(format!("`crop_size` {m}")))?;
            cfg.crop_height = h;
            cfg.crop_width = w;
        }
        if let Some(resample) = field("resample")
            && resample.as_i64() != Some(PIL_BICUBIC)
        {
            return Err(fail(format!(
                "`resample` is {resample}, but only 3 (bicubic) is supported"
            )));
        }
        cfg.do_resize = flag("do_resize", true)?;
        cfg.do_center_crop = flag("do_center_crop", true)?;
        cfg.do_rescale = flag("do_rescale", true)?;
        cfg.do_normalize = flag("do_normalize", true)?;
        cfg.do_convert_rgb = flag("do_convert_rgb", true)?;
        if let Some(v) = field("rescale_factor") {
            let f = v
                .as_f64()
                .filter(|f| f.is_finite())
                .ok_or_else(|| fail(format!("`rescale_factor` must be a number, got {v}")))?;
            cfg.rescale_factor = f as f32;
        }
        if let Some(v) = field("image_mean") {
            cfg.image_mean = parse_channels(v).map_err(|m| fail(format!("`image_mean` {m}")))?;
        }
        if let Some(v) = field("image_std") {
            cfg.image_std = parse_channels(v).map_err(|m| fail(format!("`image_std` {m}")))?;
            if cfg.image_std.contains(&0.0) {
                return Err(fail("`image_std` must not contain 0".into()));
            }
        }
        Ok(cfg)
    }

    /// Size (width, height) that the resize step gives an image of `width`×`height`.
    pub fn resized_size(&self, width: u32, height: u32) -> (u32, u32) {
        if self.do_resize {
            shortest_edge_size(width, height, self.shortest_edge)
        } else {
            (width, height)
        }
    }

    /// Size (width, height) of the preprocessed image for an input of `width`×`height`.
    pub fn output_size(&self, width: u32, height: u32) -> (u32, u32) {
        if self.do_center_crop {
            (self.crop_width, self.crop_height)
        } else {
            self.resized_size(width, height)
        }
    }
}

impl Default for PreprocessConfig {
    fn default() -> Self {
        Self::clip_default(224)
    }
}

fn positive_u32(v: &Value) -> std::result::Result<u32, String> {
    v.as_u64()
        .filter(|&n| n > 0 && n <= u64::from(u32::MAX))
        .map(|n| n as u32)
        .ok_or_else(|| format!("must be a positive integer, got {v}"))
}

fn parse_shortest_edge(v: &Value) -> std::result::Result<u32, String> {
    if v.is_number() {
        return positive_u32(v);
    }
    if let Some(obj) = v.as_object() {
        let keys: Vec<&str> = obj
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, _)| k.as_str())
            .collect();
        if keys == ["shortest_edge"] {
            return positive_u32(&obj["shortest_edge"]);
        }
        return Err(format!(
            "has keys {keys:?}; only {{\"shortest_edge\": N}} (shortest-edge resize) is supported"
        ));
    }
    Err(format!(
        "must be {{\"shortest_edge\": N}} or an integer, got {v}"
    ))
}

fn parse_crop_size(v: &Value) -> std::result::Result<(u32, u32), String> {
    if v.is_number() {
        let n = positive_u32(v)?;
        return Ok((n, n));
    }
    if let Some(obj) = v.as_object() {
        return match (obj.get("height"), obj.get("width")) {
            (Some(h), Some(w)) => Ok((positive_u32(h)?, positive_u32(w)?)),
            _ => Err(format!("must have `height` and `width`, got {v}")),
        };
    }
    if let Some([h, w]) = v.as_array().map(Vec::as_slice) {
        return Ok((positive_u32(h)?, positive_u32(w)?));
    }
    Err(format!(
        "must be {{\"height\": H, \"width\": W}} or an integer, got {v}"
    ))
}

fn parse_channels(v: &Value) -> std::result::Result<[f32; 3], String> {
    let num = |x: &Value| {
        x.as_f64()
            .filter(|f| f.is_finite())
            .map(|f| f as f32)
            .ok_or_else(|| format!("must hold numbers, got {x}"))
    };
    if v.is_number() {
        let x = num(v)?;
        return Ok([x; 3]);
    }
    match v.as_array().map(Vec::as_slice) {
        Some([r, g, b]) => Ok([num(r)?, num(g)?, num(b)?]),
        _ => Err(format!("must be a number or a list of 3 numbers, got {v}")),
    }
}

/// transformers' `get_resize_output_image_size(..., default_to_square=False)`:
/// the short side becomes `size`, the long side `int(size * long / short)`.
/// Returns (width, height).
pub fn shortest_edge_size(width: u32, height: u32, size: u32) -> (u32, u32) {
    if width == 0 || height == 0 {
        return (width, height);
    }
    let (short, long) = if width <= height {
        (width, height)
    } else {
        (height, width)
    };
    // Python divides the exact integer product; both operands are exact in f64
    // and IEEE division rounds the same way, then int() truncates.
    let new_long = (u64::from(size) * u64::from(long)) as f64 / f64::from(short);
    let new_long = new_long.min(f64::from(u32::MAX)) as u32;
    if width <= height {
        (size, new_long)
    } else {
        (new_long, size)
    }
}

// ---------------------------------------------------------------------------
// Decoding and RGB conversion
// ---------------------------------------------------------------------------

/// How transparency is turned into RGB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlphaMode {
    /// Composite over opaque white, as the processor's `convert_to_rgb` does.
    White,
    /// Drop the alpha channel, as `Image.convert("RGB")` (and so
    /// transformers' `load_image`) does.
    Drop,
}

/// Decodes PNG/JPEG/WebP/GIF (first frame) bytes, applies the EXIF
/// orientation and converts to RGB as transformers' `convert_to_rgb` does:
/// anything with transparency is composited over opaque white.
///
/// `name` is only used in error messages.
pub fn decode_image(bytes: &[u8], name: &str) -> Result<RgbImage> {
    decode_image_with(bytes, name, AlphaMode::White)
}

/// [`decode_image`] with a choice of how transparency becomes RGB.
pub fn decode_image_with(bytes: &[u8], name: &str, alpha: AlphaMode) -> Result<RgbImage> {
    if bytes.is_empty() {
        return Err(Error::image(name, "the file is empty"));
    }
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Error::image(name, format!("cannot read: {e}")))?;
    let Some(format) = reader.format() else {
        return Err(Error::image(
            name,
            "not a recognised image format (expected PNG, JPEG, WebP or GIF)",
        ));
    };
    let format_name = format!("{format:?}").to_uppercase();
    // The JPEG decoder fills in missing data silently; Pillow refuses
    // truncated files ("image file is truncated"), so do the same.
    if format == image::ImageFormat::Jpeg && jpeg_is_truncated(bytes) {
        return Err(Error::image(
            name,
            "truncated JPEG data (the file ends before its end-of-image marker)",
        ));
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(MAX_DECODED_BYTES);
    reader.limits(limits);

    let decode_error = |e: image::ImageError| match e {
        image::ImageError::Limits(_) => Error::image(
            name,
            format!(
                "{format_name} image is too large (at most {MAX_IMAGE_SIDE} pixels a side and \
                 {MAX_IMAGE_PIXELS} pixels in all): {e}"
            ),
        ),
        image::ImageError::Unsupported(_) => {
            Error::image(name, format!("unsupported {format_name} image: {e}"))
        }
        _ => Error::image(
            name,
            format!("cannot decode {format_name} data (corrupt or truncated?): {e}"),
        ),
    };

    let mut decoder = reader.into_decoder().map_err(decode_error)?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(Error::image(
            name,
            format!("image has no pixels ({width}x{height})"),
        ));
    }
    let pixels = u64::from(width) * u64::from(height);
    if width > MAX_IMAGE_SIDE
        || height > MAX_IMAGE_SIDE
        || pixels > MAX_IMAGE_PIXELS
        || decoder.total_bytes() > MAX_DECODED_BYTES
    {
        return Err(Error::image(
            name,
            format!(
                "{format_name} image is {width}x{height}, larger than allowed (at most \
                 {MAX_IMAGE_SIDE} pixels a side and {MAX_IMAGE_PIXELS} pixels in all)"
            ),
        ));
    }
    // A damaged EXIF block is ignored, as Pillow's exif_transpose does.
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(decode_error)?;
    img.apply_orientation(orientation);
    // A grayscale PNG with a tRNS chunk decodes to gray + alpha here, but
    // Pillow keeps it as plain grayscale with a transparent value.
    let png_gray = format == image::ImageFormat::Png && bytes.get(25) == Some(&0);
    Ok(to_rgb(img, alpha, png_gray))
}

/// Walks the marker segments of a JPEG file and reports whether the data
/// runs out before the end-of-image marker. Damaged structure that is not a
/// plain truncation is left to the decoder to report.
fn jpeg_is_truncated(b: &[u8]) -> bool {
    let mut i = 2; // after SOI
    loop {
        if i >= b.len() {
            return true;
        }
        if b[i] != 0xFF {
            return false;
        }
        while i < b.len() && b[i] == 0xFF {
            i += 1; // fill bytes
        }
        let Some(&marker) = b.get(i) else {
            return true;
        };
        i += 1;
        match marker {
            0xD9 => return false, // EOI
            0x01 | 0xD0..=0xD7 => {}
            _ => {
                let Some(len) = b.get(i..i + 2) else {
                    return true;
                };
                i += usize::from(u16::from_be_bytes([len[0], len[1]]));
                if marker == 0xDA {
                    // Entropy-coded data runs to the next marker other than
                    // a stuffed zero or a restart marker.
                    loop {
                        match b.get(i..i + 2) {
                            None => return true,
                            Some(&[0xFF, m]) if m != 0 && !(0xD0..=0xD7).contains(&m) => break,
                            _ => i += 1,
                        }
                    }
                }
            }
        }
    }
}

/// Pillow's `alpha_composite` of one channel value `c` with alpha `a` over an
/// opaque white background, in Pillow's integer arithmetic: 7 fractional
/// bits for the blend coefficient, then a rounded division by 255.
#[inline]
pub fn composite_on_white(c: u8, a: u8) -> u8 {
    const BITS: u32 = 7;
    if a == 0 {
        return 255;
    }
    let (c, a) = (u32::from(c), u32::from(a));
    // With an opaque destination the output alpha is 255 * 255 exactly, so the
    // source coefficient is a * 255 * 255 * 2^BITS / (255 * 255).
    let out_a = a * 255 + 255 * (255 - a);
    let src_coef = a * 255 * 255 * (1 << BITS) / out_a;
    let dst_coef = 255 * (1 << BITS) - src_coef;
    let t = c * src_coef + 255 * dst_coef + (0x80 << BITS);
    (((t >> 8) + t) >> 8 >> BITS) as u8
}

/// Pillow opens 16-bit RGB(A) and LA PNGs as 8-bit modes keeping the high byte.
#[inline]
fn high_byte(v: u16) -> u8 {
    (v >> 8) as u8
}

/// Pillow opens 16-bit grayscale PNGs as mode `I;16`, and its `I;16` to
/// RGB/RGBA/L conversions clip each value to 0..=255 (they do not rescale).
#[inline]
fn clip_i16(v: u16) -> u8 {
    v.min(255) as u8
}

fn rgb_from_fn<T: Copy>(
    w: u32,
    h: u32,
    src: &[T],
    channels: usize,
    f: impl Fn(&[T]) -> [u8; 3],
) -> RgbImage {
    let mut out = Vec::with_capacity(w as usize * h as usize * 3);
    for px in src.chunks_exact(channels) {
        out.extend_from_slice(&f(px));
    }
    RgbImage::from_raw(w, h, out).expect("buffer size matches dimensions")
}

fn blend(rgb: [u8; 3], a: u8, alpha: AlphaMode) -> [u8; 3] {
    match alpha {
        AlphaMode::Drop => rgb,
        AlphaMode::White => rgb.map(|c| composite_on_white(c, a)),
    }
}

/// Converts a decoded image to 8-bit RGB the way Pillow sees the same file.
/// `png_gray`: the image is a grayscale PNG (color type 0), which Pillow
/// opens as `L` or `I;16` even when a tRNS chunk makes it gray + alpha here.
fn to_rgb(img: DynamicImage, alpha: AlphaMode, png_gray: bool) -> RgbImage {
    let (w, h) = (img.width(), img.height());
    match img {
        DynamicImage::ImageRgb8(rgb) => rgb,
        DynamicImage::ImageLuma8(l) => rgb_from_fn(w, h, l.as_raw(), 1, |p| [p[0]; 3]),
        DynamicImage::ImageLumaA8(la) => {
            rgb_from_fn(w, h, la.as_raw(), 2, |p| blend([p[0]; 3], p[1], alpha))
        }
        DynamicImage::ImageRgba8(rgba) => rgb_from_fn(w, h, rgba.as_raw(), 4, |p| {
            blend([p[0], p[1], p[2]], p[3], alpha)
        }),
        DynamicImage::ImageRgb16(rgb) => rgb_from_fn(w, h, rgb.as_raw(), 3, |p| {
            [high_byte(p[0]), high_byte(p[1]), high_byte(p[2])]
        }),
        DynamicImage::ImageRgba16(rgba) => rgb_from_fn(w, h, rgba.as_raw(), 4, |p| {
            let rgb = [high_byte(p[0]), high_byte(p[1]), high_byte(p[2])];
            blend(rgb, high_byte(p[3]), alpha)
        }),
        DynamicImage::ImageLuma16(l) => rgb_from_fn(w, h, l.as_raw(), 1, |p| [clip_i16(p[0]); 3]),
        DynamicImage::ImageLumaA16(la) => rgb_from_fn(w, h, la.as_raw(), 2, |p| {
            let l = if png_gray {
                clip_i16(p[0])
            } else {
                high_byte(p[0])
            };
            blend([l; 3], high_byte(p[1]), alpha)
        }),
        other => {
            // Float images do not come out of the decoders enabled here.
            let rgba = other.to_rgba8();
            rgb_from_fn(w, h, rgba.as_raw(), 4, |p| {
                blend([p[0], p[1], p[2]], p[3], alpha)
            })
        }
    }
}

// ---------------------------------------------------------------------------
// Pillow's BICUBIC resampler
// ---------------------------------------------------------------------------

/// Fractional bits of Pillow's 8-bit resampling coefficients: 32 bits less 8
/// for the sample and 2 for the filter's overshoot and the sign.
const PRECISION_BITS: u32 = 32 - 8 - 2;

/// Keys' cubic convolution kernel with a = -0.5, Pillow's `bicubic_filter`.
#[inline]
fn bicubic_kernel(x: f64) -> f64 {
    const A: f64 = -0.5;
    let x = x.abs();
    if x < 1.0 {
        ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * A
    } else {
        0.0
    }
}

/// Fixed-point filter taps for some outputs of one axis: the `i`-th output
/// of the range reads `len[i]` input samples from `first[i]`, weighted by
/// `taps[i * stride..]`.
struct Taps {
    stride: usize,
    first: Vec<usize>,
    len: Vec<usize>,
    taps: Vec<i32>,
}

impl Taps {
    /// The input samples that the outputs read.
    fn span(&self) -> Range<usize> {
        let lo = self.first.iter().copied().min().unwrap_or(0);
        let hi = self.first.iter().zip(&self.len).map(|(f, l)| f + l).max();
        lo..hi.unwrap_or(lo)
    }
}

/// Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for BICUBIC from
/// `in_size` to `out_size` samples (the whole input as the box), for the
/// outputs in `outputs` only.
fn bicubic_taps(in_size: u32, out_size: u32, outputs: Range<u32>) -> Taps {
    const SUPPORT: f64 = 2.0;
    // Pillow holds the box in f32; (in1 - in0) is exact for any u32 < 2^24.
    let scale = f64::from(in_size as f32) / f64::from(out_size);
    let filter_scale = scale.max(1.0);
    let support = SUPPORT * filter_scale;
    let stride = support.ceil() as usize * 2 + 1;
    let inv = 1.0 / filter_scale;
    let n = outputs.len();
    let mut first = Vec::with_capacity(n);
    let mut len = Vec::with_capacity(n);
    let mut taps = vec![0i32; n * stride];
    let mut weights = vec![0f64; stride];
    for (i, out) in outputs.zip(taps.chunks_exact_mut(stride)) {
        let center = (f64::from(i) + 0.5) * scale;
        // C casts truncate toward zero; a negative start is clamped anyway.
        let lo = ((center - support + 0.5) as i64).max(0);
        let hi = ((center + support + 0.5) as i64).min(i64::from(in_size));
        let count = (hi - lo).clamp(0, stride as i64) as usize;
        let mut total = 0.0;
        for (j, w) in weights.iter_mut().take(count).enumerate() {
            *w = bicubic_kernel(((j as i64 + lo) as f64 - center + 0.5) * inv);
            total += *w;
        }
        for (w, t) in weights.iter().take(count).zip(out.iter_mut()) {
            let k = if total != 0.0 { *w / total } else { *w };
            let fixed = k * f64::from(1u32 << PRECISION_BITS);
            // Round half away from zero, then truncate like the C cast.
            *t = if k < 0.0 {
                (-0.5 + fixed) as i32
            } else {
                (0.5 + fixed) as i32
            };
        }
        first.push(lo as usize);
        len.push(count);
    }
    Taps {
        stride,
        first,
        len,
        taps,
    }
}

/// Pillow's `clip8`: drop the fraction (arithmetic shift) and saturate.
#[inline]
fn clip8(acc: i32) -> u8 {
    (acc >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Pillow starts each sum at one half, so that `clip8` rounds.
const ROUNDING: i32 = 1 << (PRECISION_BITS - 1);

/// Horizontal pass: rows `rows` of `src` (RGB, `src_w` wide), one output
/// column per entry of `taps`. The sums wrap like Pillow's C `int`s.
fn horizontal_pass(src: &[u8], src_w: usize, rows: Range<usize>, taps: &Taps) -> Vec<u8> {
    let out_w = taps.first.len();
    let mut out = vec![0u8; out_w * rows.len() * 3];
    for (y, out_row) in rows.zip(out.chunks_exact_mut(out_w * 3)) {
        let in_row = &src[y * src_w * 3..(y + 1) * src_w * 3];
        for (x, px) in out_row.chunks_exact_mut(3).enumerate() {
            let k = &taps.taps[x * taps.stride..x * taps.stride + taps.len[x]];
            let start = taps.first[x] * 3;
            let mut acc = [ROUNDING; 3];
            for (p, &kj) in in_row[start..].chunks_exact(3).zip(k) {
                for (a, &v) in acc.iter_mut().zip(p) {
                    *a = a.wrapping_add(i32::from(v).wrapping_mul(kj));
                }
            }
            px.copy_from_slice(&acc.map(clip8));
        }
    }
    out
}

/// Vertical pass: columns `cols` of `src` (RGB, `src_w` wide, its first row
/// being input row `row0`), one output row per entry of `taps`.
fn vertical_pass(
    src: &[u8],
    src_w: usize,
    cols: Range<usize>,
    row0: usize,
    taps: &Taps,
) -> Vec<u8> {
    let out_w = cols.len();
    let mut out = vec![0u8; out_w * taps.first.len() * 3];
    let mut acc = vec![0i32; out_w * 3];
    for (y, out_row) in out.chunks_exact_mut(out_w * 3).enumerate() {
        let k = &taps.taps[y * taps.stride..y * taps.stride + taps.len[y]];
        acc.fill(ROUNDING);
        for (j, &kj) in k.iter().enumerate() {
            let row = (taps.first[y] + j - row0) * src_w;
            let in_row = &src[(row + cols.start) * 3..(row + cols.end) * 3];
            for (a, &v) in acc.iter_mut().zip(in_row) {
                *a = a.wrapping_add(i32::from(v).wrapping_mul(kj));
            }
        }
        for (o, &a) in out_row.iter_mut().zip(&acc) {
            *o = clip8(a);
        }
    }
    out
}

/// Pillow's `ImagingResampleInner` (BICUBIC, 8-bit RGB, whole source box)
/// from `sw`×`sh` to `dw`×`dh`, computing only output columns `xs` of rows
/// `ys`: a horizontal pass first over the input rows that the vertical pass
/// reads, then the vertical pass; a pass whose size does not change is
/// skipped. Every output pixel depends only on its own taps, so the region
/// equals the same crop of the whole result.
fn resample_region(
    src: &[u8],
    (sw, sh): (u32, u32),
    (dw, dh): (u32, u32),
    xs: Range<u32>,
    ys: Range<u32>,
) -> Vec<u8> {
    let cols = xs.start as usize..xs.end as usize;
    let rows = ys.start as usize..ys.end as usize;
    match (dw != sw, dh != sh) {
        (false, false) => {
            let w = sw as usize;
            rows.flat_map(|y| &src[(y * w + cols.start) * 3..(y * w + cols.end) * 3])
                .copied()
                .collect()
        }
        (true, false) => horizontal_pass(src, sw as usize, rows, &bicubic_taps(sw, dw, xs)),
        (false, true) => vertical_pass(src, sw as usize, cols, 0, &bicubic_taps(sh, dh, ys)),
        (true, true) => {
            let vtaps = bicubic_taps(sh, dh, ys);
            let span = vtaps.span();
            let row0 = span.start;
            let htaps = bicubic_taps(sw, dw, xs.clone());
            let tmp = horizontal_pass(src, sw as usize, span, &htaps);
            vertical_pass(&tmp, xs.len(), 0..xs.len(), row0, &vtaps)
        }
    }
}

/// Region `xs`×`ys` of `img` resized to `width`×`height` by Pillow's
/// `Image.resize`, which sends images more than 100 times taller than wide
/// that get shorter through a vertical-only resize and then a
/// horizontal-only one.
fn resize_region(
    img: &RgbImage,
    width: u32,
    height: u32,
    xs: Range<u32>,
    ys: Range<u32>,
) -> Vec<u8> {
    let (sw, sh) = img.dimensions();
    if u64::from(sh) > u64::from(sw) * 100 && height < sh {
        let rows = ys.len() as u32;
        let tall = resample_region(img.as_raw(), (sw, sh), (sw, height), 0..sw, ys);
        resample_region(&tall, (sw, rows), (width, rows), xs, 0..rows)
    } else {
        resample_region(img.as_raw(), (sw, sh), (width, height), xs, ys)
    }
}

/// Pillow's `Image.resize((width, height), Image.BICUBIC)` for 8-bit RGB,
/// bit for bit: the same fixed-point taps (22 fractional bits, rounded away
/// from zero), the same pass order with an 8-bit intermediate, the same
/// rounding and clipping, and the same vertical-first route for images more
/// than 100 times taller than wide.
pub fn resize_bicubic_pil(img: &RgbImage, width: u32, height: u32) -> RgbImage {
    let (sw, sh) = img.dimensions();
    if (sw, sh) == (width, height) {
        return img.clone();
    }
    if sw == 0 || sh == 0 || width == 0 || height == 0 {
        return RgbImage::new(width, height);
    }
    let data = resize_region(img, width, height, 0..width, 0..height);
    RgbImage::from_raw(width, height, data).expect("buffer size matches dimensions")
}

// ---------------------------------------------------------------------------
// The whole pipeline
// ---------------------------------------------------------------------------

/// The `f64` rescale factor the config meant. Configs write 1/255 as a
/// decimal that parses to the `f64` 1/255 which transformers multiplies by;
/// the `f32` field loses that, so a factor that is the `f32` of `1/k` for an
/// integer `k` is taken as `1/k` in `f64`.
fn rescale_factor_f64(f: f32) -> f64 {
    let f64_value = f64::from(f);
    if f > 0.0 {
        let k = (1.0 / f64_value).round();
        if (1.0..=65_536.0).contains(&k) && (1.0 / k) as f32 == f {
            return 1.0 / k;
        }
    }
    f64_value
}

/// Resizes (shortest edge, PIL bicubic), center crops (zero padding where the
/// image is smaller than the crop, like transformers), rescales and
/// normalizes. Returns CHW `f32` values, `3 * crop_height * crop_width` of
/// them (or `3 * h * w` of the resized image when `do_center_crop` is off).
pub fn preprocess(img: &RgbImage, cfg: &PreprocessConfig) -> Vec<f32> {
    let (rw, rh) = cfg.resized_size(img.width(), img.height());
    let (w, h) = (i64::from(rw), i64::from(rh));
    let (ow, oh, left, top) = if cfg.do_center_crop {
        let (cw, ch) = (i64::from(cfg.crop_width), i64::from(cfg.crop_height));
        // Python's floor division; negative offsets mean zero padding.
        (cw, ch, (w - cw).div_euclid(2), (h - ch).div_euclid(2))
    } else {
        (w, h, 0, 0)
    };
    // Only the part of the resized image inside the crop is computed.
    let xs = left.clamp(0, w) as u32..(left + ow).clamp(0, w) as u32;
    let ys = top.clamp(0, h) as u32..(top + oh).clamp(0, h) as u32;
    let region = if img.width() == 0 || img.height() == 0 {
        vec![0; xs.len() * ys.len() * 3]
    } else {
        resize_region(img, rw, rh, xs.clone(), ys.clone())
    };

    let factor = rescale_factor_f64(cfg.rescale_factor);
    let value = |c: usize, v: u8| -> f32 {
        let x = if cfg.do_rescale {
            (f64::from(v) * factor) as f32
        } else {
            f32::from(v)
        };
        if cfg.do_normalize {
            (x - cfg.image_mean[c]) / cfg.image_std[c]
        } else {
            x
        }
    };
    let lut: [[f32; 256]; 3] = std::array::from_fn(|c| std::array::from_fn(|v| value(c, v as u8)));

    let (ow, oh) = (ow as usize, oh as usize);
    let plane = ow * oh;
    // Padding is a zero pixel before rescaling and normalizing.
    let mut out: Vec<f32> = lut
        .iter()
        .flat_map(|l| std::iter::repeat_n(l[0], plane))
        .collect();
    let region_w = xs.len();
    if region_w == 0 {
        return out;
    }
    let (dx, dy) = (
        (i64::from(xs.start) - left) as usize,
        (i64::from(ys.start) - top) as usize,
    );
    for (ry, row) in region.chunks_exact(region_w * 3).enumerate() {
        for (rx, px) in row.chunks_exact(3).enumerate() {
            let i = (ry + dy) * ow + rx + dx;
            for c in 0..3 {
                out[c * plane + i] = lut[c][usize::from(px[c])];
            }
        }
    }
    out
}

/// [`decode_image`] followed by [`preprocess`].
pub fn pixel_values(bytes: &[u8], name: &str, cfg: &PreprocessConfig) -> Result<Vec<f32>> {
    let img = decode_image(bytes, name)?;
    Ok(preprocess(&img, cfg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageEncoder, Rgb};

    /// Deterministic test pattern with hard jumps (values wrap at 256).
    fn pattern(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            Rgb(std::array::from_fn(|c| {
                ((x * 37 + y * 91 + c as u32 * 53 + x * y * 7) % 256) as u8
            }))
        })
    }

    fn png_bytes(img: &RgbImage, exif: Option<Vec<u8>>) -> Vec<u8> {
        let mut out = Vec::new();
        let mut enc = image::codecs::png::PngEncoder::new(&mut out);
        if let Some(exif) = exif {
            enc.set_exif_metadata(exif).unwrap();
        }
        enc.write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgb8,
        )
        .unwrap();
        out
    }

    fn jpeg_bytes(img: &RgbImage) -> Vec<u8> {
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
            .write_image(
                img.as_raw(),
                img.width(),
                img.height(),
                image::ExtendedColorType::Rgb8,
            )
            .unwrap();
        out
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    fn image_error(bytes: &[u8], name: &str) -> String {
        match decode_image(bytes, name) {
            Err(e @ Error::Image { .. }) => {
                let text = e.to_string();
                assert!(text.contains(name), "{text}");
                text
            }
            Err(other) => panic!("expected an image error, got {other}"),
            Ok(img) => panic!("expected an error, decoded {:?}", img.dimensions()),
        }
    }

    #[test]
    fn config_in_the_current_layout() {
        let json = r#"{
            "crop_size": {"height": 96, "width": 96}, "do_center_crop": true,
            "do_convert_rgb": true, "do_normalize": true, "do_rescale": true, "do_resize": true,
            "image_mean": [0.48145466, 0.4578275, 0.40821073],
            "image_processor_type": "CLIPImageProcessor",
            "image_std": [0.26862954, 0.26130258, 0.27577711],
            "resample": 3, "rescale_factor": 0.00392156862745098,
            "size": {"shortest_edge": 96}
        }"#;
        let cfg = PreprocessConfig::from_json(json, "preprocessor_config.json").unwrap();
        assert_eq!(cfg, PreprocessConfig::clip_default(96));
    }

    #[test]
    fn config_in_the_legacy_layout() {
        // openai/clip-vit-base-patch32's file: int sizes, no rescale fields.
        let json = r#"{"crop_size": 224, "do_center_crop": true, "do_normalize": true,
            "do_resize": true, "feature_extractor_type": "CLIPFeatureExtractor",
            "image_mean": [0.48145466, 0.4578275, 0.40821073],
            "image_std": [0.26862954, 0.26130258, 0.27577711], "resample": 3, "size": 224}"#;
        let cfg = PreprocessConfig::from_json(json, "preprocessor_config.json").unwrap();
        assert_eq!(cfg, PreprocessConfig::default());
    }

    #[test]
    fn config_variants() {
        let cfg = PreprocessConfig::from_json(
            r#"{"size": {"shortest_edge": 64}, "crop_size": [80, 100], "do_rescale": false,
                "image_mean": 0.5, "image_std": [0.5, 0.25, 1], "unknown": {"x": 1}}"#,
            "p.json",
        )
        .unwrap();
        assert_eq!(
            (cfg.shortest_edge, cfg.crop_height, cfg.crop_width),
            (64, 80, 100)
        );
        assert!(!cfg.do_rescale && cfg.do_normalize && cfg.do_center_crop);
        assert_eq!(cfg.image_mean, [0.5; 3]);
        assert_eq!(cfg.image_std, [0.5, 0.25, 1.0]);
    }

    #[test]
    fn config_errors_name_the_file() {
        for (json, needle) in [
            ("{not json", "JSON"),
            ("[1, 2]", "object"),
            (
                r#"{"size": {"height": 224, "width": 224}}"#,
                "shortest_edge",
            ),
            (r#"{"size": -3}"#, "size"),
            (r#"{"crop_size": {"height": 224}}"#, "crop_size"),
            (r#"{"resample": 2}"#, "bicubic"),
            (r#"{"image_mean": [0.5, 0.5]}"#, "image_mean"),
            (r#"{"image_std": [0.5, 0, 0.5]}"#, "image_std"),
            (r#"{"do_resize": "yes"}"#, "do_resize"),
        ] {
            let err = PreprocessConfig::from_json(json, "my_preprocessor.json").unwrap_err();
            assert!(matches!(err, Error::Config { .. }), "{err}");
            let text = err.to_string();
            assert!(
                text.contains("my_preprocessor.json") && text.contains(needle),
                "{text}"
            );
        }
    }

    #[test]
    fn shortest_edge_sizes_truncate_like_transformers() {
        assert_eq!(shortest_edge_size(640, 480, 224), (298, 224)); // 298.67
        assert_eq!(shortest_edge_size(480, 640, 224), (224, 298));
        assert_eq!(shortest_edge_size(300, 200, 224), (336, 224));
        assert_eq!(shortest_edge_size(224, 224, 224), (224, 224));
        assert_eq!(shortest_edge_size(1, 3, 224), (224, 672));
        assert_eq!(shortest_edge_size(7, 5, 224), (313, 224)); // 313.6
    }

    // Expected bytes below came from Pillow 12.3.0:
    // Image.fromarray(pattern).resize((w, h), Image.Resampling.BICUBIC).
    #[test]
    fn resize_matches_pillow_bytes() {
        #[rustfmt::skip]
        let cases: [(u32, u32, u32, u32, &[u8]); 5] = [
            // both axes down
            (5, 4, 3, 2, &[79, 121, 156, 126, 141, 130, 113, 120, 177, 125, 127, 114, 119, 139,
                150, 159, 134, 135]),
            // both axes up: overshoot clipped at 0 and 255
            (3, 2, 7, 5, &[0, 40, 93, 0, 47, 100, 9, 62, 113, 27, 80, 133, 46, 99, 163, 61, 114,
                190, 68, 121, 201, 6, 55, 108, 9, 62, 115, 24, 77, 131, 43, 96, 149, 63, 116, 161,
                78, 131, 169, 85, 138, 173, 44, 95, 148, 49, 102, 156, 66, 119, 180, 86, 139, 192,
                107, 160, 157, 123, 176, 113, 131, 184, 97, 81, 134, 187, 89, 142, 197, 107, 160,
                229, 129, 182, 235, 150, 203, 152, 168, 221, 57, 176, 229, 20, 96, 149, 202, 104,
                157, 212, 122, 175, 247, 145, 198, 251, 167, 220, 150, 185, 238, 36, 193, 246, 0]),
            // vertical pass only
            (4, 3, 4, 6, &[0, 45, 98, 28, 81, 134, 65, 118, 193, 101, 177, 230, 15, 68, 127, 53,
                112, 165, 97, 150, 149, 135, 134, 187, 65, 118, 188, 107, 177, 230, 166, 219, 55,
                208, 44, 97, 117, 170, 167, 163, 160, 213, 153, 206, 42, 199, 35, 88, 167, 220,
                65, 217, 62, 115, 59, 112, 111, 109, 108, 161, 190, 243, 17, 242, 16, 69, 15, 68,
                143, 66, 142, 195]),
            // horizontal pass only
            (6, 2, 2, 2, &[42, 95, 155, 143, 196, 178, 148, 170, 152, 100, 82, 104]),
            // more than 100 times taller than wide: vertical pass first
            (2, 201, 1, 3, &[128, 126, 129, 129, 127, 128, 128, 129, 127]),
        ];
        for (w, h, tw, th, want) in cases {
            let got = resize_bicubic_pil(&pattern(w, h), tw, th);
            assert_eq!(got.dimensions(), (tw, th));
            assert_eq!(got.as_raw().as_slice(), want, "{w}x{h} -> {tw}x{th}");
        }
    }

    #[test]
    fn resize_keeps_constant_images_constant() {
        for (w, h, tw, th) in [
            (1, 1, 224, 224),
            (37, 23, 5, 9),
            (300, 7, 224, 1),
            (3, 500, 2, 100),
        ] {
            let img = RgbImage::from_pixel(w, h, Rgb([0, 128, 255]));
            let out = resize_bicubic_pil(&img, tw, th);
            assert_eq!(out.dimensions(), (tw, th));
            assert!(
                out.pixels().all(|p| *p == Rgb([0, 128, 255])),
                "{w}x{h} -> {tw}x{th}"
            );
        }
        let img = pattern(9, 4);
        assert_eq!(resize_bicubic_pil(&img, 9, 4), img);
    }

    #[test]
    fn alpha_composite_matches_pillow() {
        // Image.alpha_composite(white, RGBA(c, c, c, a)) in Pillow 12.3.0.
        for (c, a, want) in [
            (0, 128, 127),
            (200, 1, 255),
            (17, 254, 18),
            (255, 0, 255),
            (90, 77, 205),
            (3, 200, 57),
        ] {
            assert_eq!(composite_on_white(c, a), want, "c={c} a={a}");
        }
        for c in 0..=255 {
            assert_eq!(composite_on_white(c, 255), c);
            assert_eq!(composite_on_white(c, 0), 255);
        }
    }

    #[test]
    fn preprocess_matches_transformers() {
        // CLIPImageProcessorPil(size={"shortest_edge": 4}, crop_size={"height": 3, "width": 9})
        // on the 6x3 pattern (transformers 5.24.0, Pillow 12.3.0): resized to 8x4, then
        // cropped from row 0 and column -1, so column 0 is zero padding.
        #[rustfmt::skip]
        let want: [f32; 81] = [
            -1.7922626, -1.7922626, -1.5586877, -1.1207349, -0.72657734, -0.33241987, 0.20772196,
            0.71866685, 1.0398322, -1.7922626, -1.0769397, -0.7411758, -0.14264035, 0.5142889,
            1.0544306, -0.33241987, -0.9163569, -0.37621516, -1.7922626, 0.09093457, 0.6018794,
            0.6018794, 0.13472985, 0.8208558, -0.47840413, -0.9893491, -0.405412, -1.7520971,
            -1.0617398, -0.7165611, -0.2813358, 0.16889732, 0.7241847, 1.1744177, 1.609643,
            1.9548216, -1.7520971, -0.23631251, 0.3039672, 1.0543556, 1.1594099, -0.6115067,
            -0.5064523, 0.1238739, 0.4990682, -1.7520971, 1.0543556, 0.4990682, 0.55909926,
            0.8592546, -0.83662325, -0.65652996, 0.048835065, 0.46905264, -1.4802198, -0.07243322,
            0.24040821, 0.7381106, 1.2784731, 1.6481948, 2.145897, 1.036732, -1.2384787,
            -1.4802198, 0.9798517, 1.5059941, 0.9229715, -0.4137148, 0.1266477, 0.63857013,
            0.63857013, 0.24040821, -1.4802198, 0.4963695, 1.0793922, 0.5816899, -0.6981161,
            -0.086653285, 0.52480966, 0.56746984, 0.21196808,
        ];
        let mut cfg = PreprocessConfig::clip_default(4);
        (cfg.crop_height, cfg.crop_width) = (3, 9);
        let got = preprocess(&pattern(6, 3), &cfg);
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g.to_bits(), w.to_bits(), "value {i}: {g} vs {w}");
        }
    }

    /// `preprocess` written the plain way: resize everything, then crop.
    fn preprocess_naive(img: &RgbImage, cfg: &PreprocessConfig) -> Vec<f32> {
        let (rw, rh) = cfg.resized_size(img.width(), img.height());
        let resized = resize_bicubic_pil(img, rw, rh);
        let (cw, ch) = (cfg.crop_width as i64, cfg.crop_height as i64);
        let (left, top) = (
            (rw as i64 - cw).div_euclid(2),
            (rh as i64 - ch).div_euclid(2),
        );
        let mut out = Vec::new();
        for c in 0..3 {
            for y in top..top + ch {
                for x in left..left + cw {
                    let v = if (0..rw as i64).contains(&x) && (0..rh as i64).contains(&y) {
                        resized.get_pixel(x as u32, y as u32)[c]
                    } else {
                        0
                    };
                    let x = (f64::from(v) / 255.0) as f32;
                    out.push((x - cfg.image_mean[c]) / cfg.image_std[c]);
                }
            }
        }
        out
    }

    #[test]
    fn cropped_resize_equals_resize_then_crop() {
        let mut cfg = PreprocessConfig::clip_default(24);
        for (w, h, crop) in [
            (50, 31, (24, 24)),
            (31, 50, (10, 30)),
            (3, 700, (5, 9)),
            (640, 4, (40, 7)),
        ] {
            (cfg.crop_height, cfg.crop_width) = crop;
            for shortest in [2, 24, 100] {
                cfg.shortest_edge = shortest;
                let img = pattern(w, h);
                assert_eq!(
                    preprocess(&img, &cfg),
                    preprocess_naive(&img, &cfg),
                    "{w}x{h} {shortest} {crop:?}"
                );
            }
        }
    }

    #[test]
    fn preprocess_output_sizes() {
        let cfg = PreprocessConfig::clip_default(32);
        assert_eq!(preprocess(&pattern(1, 1), &cfg).len(), 3 * 32 * 32);
        assert_eq!(preprocess(&pattern(640, 20), &cfg).len(), 3 * 32 * 32);
        let cfg = PreprocessConfig {
            do_center_crop: false,
            ..cfg
        };
        assert_eq!(cfg.output_size(10, 20), (32, 64));
        assert_eq!(preprocess(&pattern(10, 20), &cfg).len(), 3 * 32 * 64);
        let raw = PreprocessConfig {
            do_resize: false,
            do_rescale: false,
            do_normalize: false,
            ..PreprocessConfig::clip_default(2)
        };
        let img = pattern(2, 2);
        let chw: Vec<f32> = (0..3)
            .flat_map(|c| img.pixels().map(move |p| f32::from(p[c])))
            .collect();
        assert_eq!(preprocess(&img, &raw), chw);
    }

    #[test]
    fn png_round_trip_and_pixel_values() {
        let img = pattern(40, 30);
        let bytes = png_bytes(&img, None);
        assert_eq!(decode_image(&bytes, "p.png").unwrap(), img);
        let cfg = PreprocessConfig::clip_default(16);
        assert_eq!(
            pixel_values(&bytes, "p.png", &cfg).unwrap(),
            preprocess(&img, &cfg)
        );
    }

    #[test]
    fn exif_orientation_6_rotates_clockwise() {
        // Little-endian TIFF with one IFD entry: Orientation (0x0112), SHORT, 1, value 6.
        let exif = vec![
            b'I', b'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0,
            0,
        ];
        let img = RgbImage::from_fn(3, 2, |x, y| Rgb([(y * 3 + x) as u8 * 10, 0, 0]));
        let got = decode_image(&png_bytes(&img, Some(exif)), "rotated.png").unwrap();
        // Rows [0 10 20] / [30 40 50] turned 90 degrees clockwise, as Pillow's
        // exif_transpose does.
        let reds: Vec<u8> = got.pixels().map(|p| p[0]).collect();
        assert_eq!(got.dimensions(), (2, 3));
        assert_eq!(reds, [30, 0, 40, 10, 50, 20]);
    }

    #[test]
    fn grayscale_and_alpha_become_rgb_like_pillow() {
        let mut out = Vec::new();
        let la = [0u8, 0, 200, 1, 17, 254, 90, 77];
        image::codecs::png::PngEncoder::new(&mut out)
            .write_image(&la, 4, 1, image::ExtendedColorType::La8)
            .unwrap();
        let white = decode_image(&out, "la.png").unwrap();
        let reds: Vec<u8> = white.pixels().map(|p| p[0]).collect();
        assert_eq!(reds, [255, 255, 18, 205]);
        assert!(white.pixels().all(|p| p[0] == p[1] && p[1] == p[2]));
        let dropped = decode_image_with(&out, "la.png", AlphaMode::Drop).unwrap();
        assert_eq!(
            dropped.pixels().map(|p| p[0]).collect::<Vec<_>>(),
            [0, 200, 17, 90]
        );
    }

    #[test]
    fn bad_bytes_are_image_errors() {
        image_error(b"", "empty.png");
        let text = image_error(b"definitely not an image", "notes.txt");
        assert!(text.contains("format"), "{text}");
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect();
        image_error(&noise, "noise.bin");

        let img = pattern(64, 48);
        for (bytes, name) in [
            (png_bytes(&img, None), "cut.png"),
            (jpeg_bytes(&img), "cut.jpg"),
        ] {
            assert!(decode_image(&bytes, name).is_ok());
            for cut in [bytes.len() * 2 / 3, bytes.len() / 2, 40, 9] {
                image_error(&bytes[..cut], name);
            }
            // Valid signature, garbage after it.
            if name.ends_with(".jpg") {
                // Like Pillow, a JPEG that lacks only its end marker is refused.
                image_error(&bytes[..bytes.len() - 2], name);
            }
            let mut bad = bytes[..16].to_vec();
            bad.extend_from_slice(&noise[..500]);
            image_error(&bad, name);
        }
    }

    #[test]
    fn huge_dimensions_are_refused_before_decoding() {
        // A PNG header claiming 60000x60000 pixels (a decompression bomb).
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = b"IHDR".to_vec();
        ihdr.extend_from_slice(&60_000u32.to_be_bytes());
        ihdr.extend_from_slice(&60_000u32.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        png.extend_from_slice(&13u32.to_be_bytes());
        png.extend_from_slice(&ihdr);
        png.extend_from_slice(&crc32(&ihdr).to_be_bytes());
        png.extend_from_slice(&[0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82]);
        let text = image_error(&png, "bomb.png");
        assert!(text.contains("large"), "{text}");

        // A GIF whose logical screen is 20000x20000.
        let mut gif = b"GIF89a".to_vec();
        gif.extend_from_slice(&20_000u16.to_le_bytes());
        gif.extend_from_slice(&20_000u16.to_le_bytes());
        gif.extend_from_slice(&[0, 0, 0, b';']);
        image_error(&gif, "bomb.gif");
    }
}
