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
//! steps 4-5 give the same values as transformers. Decoded pixels are the
//! same for PNG, GIF and lossless WebP; lossy formats (JPEG, lossy WebP) go
//! through different decoders here (zune-jpeg, image-webp) than in Pillow
//! (libjpeg-turbo, libwebp), whose IDCT and chroma upsampling differ by a
//! few levels on some pixels.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageReader, Limits, RgbImage};
use serde_json::Value;

use crate::error::{Error, Result};

/// OpenAI CLIP's per-channel mean (RGB), as in transformers' `OPENAI_CLIP_MEAN`.
pub const CLIP_MEAN: [f32; 3] = [0.481_454_66, 0.457_827_5, 0.408_210_73];
/// OpenAI CLIP's per-channel standard deviation (RGB), `OPENAI_CLIP_STD`.
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
            cfg.shortest_edge = parse_shortest_edge(size).map_err(|m| fail(format!("`size` {m}")))?;
        }
        if let Some(crop) = field("crop_size") {
            let (h, w) = parse_crop_size(crop).map_err(|m| fail(format!("`crop_size` {m}")))?;
            cfg.crop_height = h;
            cfg.crop_width = w;
        }
        if let Some(resample) = field("resample") {
            if resample.as_i64() != Some(PIL_BICUBIC) {
                return Err(fail(format!(
                    "`resample` is {resample}, but only 3 (bicubic) is supported"
                )));
            }
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
            if cfg.image_std.iter().any(|&s| s == 0.0) {
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
    let reader = ImageReader::new(Cursor::new(bytes))
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
    let mut reader = reader;
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
        return Err(Error::image(name, format!("image has no pixels ({width}x{height})")));
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

fn rgb_from_fn(w: u32, h: u32, src: &[u8], channels: usize, f: impl Fn(&[u8]) -> [u8; 3]) -> RgbImage {
    let mut out = Vec::with_capacity(w as usize * h as usize * 3);
    for px in src.chunks_exact(channels) {
        out.extend_from_slice(&f(px));
    }
    RgbImage::from_raw(w, h, out).expect("buffer size matches dimensions")
}

fn rgb_from_fn16(
    w: u32,
    h: u32,
    src: &[u16],
    channels: usize,
    f: impl Fn(&[u16]) -> [u8; 3],
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
        DynamicImage::ImageRgb16(rgb) => rgb_from_fn16(w, h, rgb.as_raw(), 3, |p| {
            [high_byte(p[0]), high_byte(p[1]), high_byte(p[2])]
        }),
        DynamicImage::ImageRgba16(rgba) => rgb_from_fn16(w, h, rgba.as_raw(), 4, |p| {
            let rgb = [high_byte(p[0]), high_byte(p[1]), high_byte(p[2])];
            blend(rgb, high_byte(p[3]), alpha)
        }),
        DynamicImage::ImageLuma16(l) => rgb_from_fn16(w, h, l.as_raw(), 1, |p| [clip_i16(p[0]); 3]),
        DynamicImage::ImageLumaA16(la) => rgb_from_fn16(w, h, la.as_raw(), 2, |p| {
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

/// Fixed-point filter taps for one axis: output sample `i` reads `len[i]`
/// input samples from `first[i]`, weighted by `taps[i * stride..]`.
struct Taps {
    stride: usize,
    first: Vec<usize>,
    len: Vec<usize>,
    taps: Vec<i32>,
}

/// Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for BICUBIC over the
/// source interval `[in0, in1)` (kept in `f32` like Pillow's box).
fn bicubic_taps(in_size: u32, in0: f32, in1: f32, out_size: u32) -> Taps {
    const SUPPORT: f64 = 2.0;
    let scale = f64::from(in1 - in0) / f64::from(out_size);
    let filter_scale = scale.max(1.0);
    let support = SUPPORT * filter_scale;
    let stride = support.ceil() as usize * 2 + 1;
    let inv = 1.0 / filter_scale;
    let n = out_size as usize;
    let mut first = Vec::with_capacity(n);
    let mut len = Vec::with_capacity(n);
    let mut taps = vec![0i32; n * stride];
    let mut weights = vec![0f64; stride];
    for (i, out) in taps.chunks_exact_mut(stride).enumerate() {
        let center = f64::from(in0) + (i as f64 + 0.5) * scale;
        // C casts truncate toward zero; a negative start is clamped anyway.
        let lo = ((center - support + 0.5) as i64).max(0);
        let hi = ((center + support + 0.5) as i64).min(i64::from(in_size));
        let count = (hi - lo).max(0) as usize;
        let mut total = 0.0;
        for (j, w) in weights.iter_mut().take(count).enumerate() {
            *w = bicubic_kernel(((j as i64 + lo) as f64 - center + 0.5) * inv);
            total += *w;
        }
        for (w, t) in weights.iter().take(count).zip(out.iter_mut()) {
            let k = if total != 0.0 { *w / total } else { *w };
            let fixed = k * f64::from(1u32 << PRECISION_BITS);
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

const ROUNDING: i32 = 1 << (PRECISION_BITS - 1);

/// Horizontal pass over rows `row0..row0 + rows` of `src` (`sw` wide).
fn resample_rows(src: &[u8], sw: usize, row0: usize, rows: usize, taps: &Taps) -> Vec<u8> {
    let dw = taps.first.len();
    let mut out = vec![0u8; dw * rows * 3];
    for (y, out_row) in out.chunks_exact_mut(dw * 3).enumerate() {
        let in_row = &src[(row0 + y) * sw * 3..(row0 + y + 1) * sw * 3];
        for (x, px) in out_row.chunks_exact_mut(3).enumerate() {
            let k = &taps.taps[x * taps.stride..x * taps.stride + taps.len[x]];
            let start = taps.first[x] * 3;
            let (mut r, mut g, mut b) = (ROUNDING, ROUNDING, ROUNDING);
            for (j, &kj) in k.iter().enumerate() {
                let p = &in_row[start + j * 3..start + j * 3 + 3];
                r = r.wrapping_add(i32::from(p[0]).wrapping_mul(kj));
                g = g.wrapping_add(i32::from(p[1]).wrapping_mul(kj));
                b = b.wrapping_add(i32::from(p[2]).wrapping_mul(kj));
            }
            px.copy_from_slice(&[clip8(r), clip8(g), clip8(b)]);
        }
    }
    out
}

/// Vertical pass: `src` is `w` wide; `taps.first` counts from row `row0` of it.
fn resample_cols(src: &[u8], w: usize, row0: usize, taps: &Taps) -> Vec<u8> {
    let dh = taps.first.len();
    let mut out = vec![0u8; w * dh * 3];
    let mut acc = vec![0i32; w * 3];
    for (y, out_row) in out.chunks_exact_mut(w * 3).enumerate() {
        let k = &taps.taps[y * taps.stride..y * taps.stride + taps.len[y]];
        acc.fill(ROUNDING);
        for (j, &kj) in k.iter().enumerate() {
            let row = taps.first[y] - row0 + j;
            let in_row = &src[row * w * 3..(row + 1) * w * 3];
            for (a, &p) in acc.iter_mut().zip(in_row) {
                *a = a.wrapping_add(i32::from(p).wrapping_mul(kj));
            }
        }
        for (o, &a) in out_row.iter_mut().zip(&acc) {
            *o = clip8(a);
        }
    }
    out
}

/// Pillow's `ImagingResampleInner` for an 8-bit RGB image and the whole
/// source box: horizontal pass first (only over the rows the vertical pass
/// reads), then vertical; a pass whose size does not change is skipped.
fn resample(src: &[u8], sw: u32, sh: u32, dw: u32, dh: u32) -> Vec<u8> {
    let need_h = dw != sw;
    let need_v = dh != sh;
    if !need_h && !need_v {
        return src.to_vec();
    }
    let vtaps = bicubic_taps(sh, 0.0, sh as f32, dh);
    if !need_v {
        let htaps = bicubic_taps(sw, 0.0, sw as f32, dw);
        return resample_rows(src, sw as usize, 0, sh as usize, &htaps);
    }
    if !need_h {
        return resample_cols(src, sw as usize, 0, &vtaps);
    }
    let row_first = vtaps.first[0];
    let last = dh as usize - 1;
    let row_end = vtaps.first[last] + vtaps.len[last];
    let htaps = bicubic_taps(sw, 0.0, sw as f32, dw);
    let tmp = resample_rows(src, sw as usize, row_first, row_end - row_first, &htaps);
    resample_cols(&tmp, dw as usize, row_first, &vtaps)
}

/// Pillow's `Image.resize((width, height), Image.BICUBIC)` for 8-bit RGB,
/// bit for bit: the same fixed-point taps (22 fractional bits, rounded away
/// from zero), the same pass order with an 8-bit intermediate, the same
/// rounding and clipping. Like Pillow, an image more than 100 times taller
/// than wide that gets shorter is resized vertically first.
pub fn resize_bicubic_pil(img: &RgbImage, width: u32, height: u32) -> RgbImage {
    let (sw, sh) = img.dimensions();
    if (sw, sh) == (width, height) {
        return img.clone();
    }
    if sw == 0 || sh == 0 || width == 0 || height == 0 {
        return RgbImage::new(width, height);
    }
    let data = if u64::from(sh) > u64::from(sw) * 100 && height < sh {
        let tall = resample(img.as_raw(), sw, sh, sw, height);
        resample(&tall, sw, height, width, height)
    } else {
        resample(img.as_raw(), sw, sh, width, height)
    };
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
    let resized;
    let img = if (rw, rh) != img.dimensions() {
        resized = resize_bicubic_pil(img, rw, rh);
        &resized
    } else {
        img
    };
    let (w, h) = (img.width() as i64, img.height() as i64);
    let (ow, oh, left, top) = if cfg.do_center_crop {
        let (cw, ch) = (i64::from(cfg.crop_width), i64::from(cfg.crop_height));
        // Python's floor division; negative offsets mean zero padding.
        (cw, ch, (w - cw).div_euclid(2), (h - ch).div_euclid(2))
    } else {
        (w, h, 0, 0)
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
    let lut: Vec<[f32; 256]> = (0..3)
        .map(|c| std::array::from_fn(|v| value(c, v as u8)))
        .collect();

    let plane = (ow * oh) as usize;
    let mut out = vec![0f32; 3 * plane];
    let raw = img.as_raw();
    for oy in 0..oh {
        let sy = oy + top;
        for ox in 0..ow {
            let sx = ox + left;
            let i = (oy * ow + ox) as usize;
            if (0..h).contains(&sy) && (0..w).contains(&sx) {
                let p = ((sy * w + sx) * 3) as usize;
                for c in 0..3 {
                    out[c * plane + i] = lut[c][raw[p + c] as usize];
                }
            } else {
                for c in 0..3 {
                    out[c * plane + i] = lut[c][0];
                }
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
