//! Decoding image files and converting them to RGB as Pillow does,
//! within limits that refuse decompression bombs from the header.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageReader, Limits, RgbImage};

use crate::error::{Error, Result};

/// Largest width or height accepted from an image file.
pub const MAX_IMAGE_SIDE: u32 = 32_768;
/// Largest number of pixels accepted from an image file (64 megapixels).
pub const MAX_IMAGE_PIXELS: u64 = 64 * 1024 * 1024;
/// Largest decoded buffer accepted (all channels and bit depths counted).
pub const MAX_DECODED_BYTES: u64 = 512 * 1024 * 1024;

/// Decodes PNG/JPEG/WebP/GIF (first frame) bytes, applies the EXIF
/// orientation and converts to RGB as transformers' `convert_to_rgb` does:
/// anything with transparency is composited over opaque white.
///
/// `name` is only used in error messages.
pub fn decode_image(bytes: &[u8], name: &str) -> Result<RgbImage> {
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
    Ok(to_rgb(img, png_gray))
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

/// `rgb` with alpha `a` over opaque white.
fn blend(rgb: [u8; 3], a: u8) -> [u8; 3] {
    rgb.map(|c| composite_on_white(c, a))
}

/// Converts a decoded image to 8-bit RGB the way Pillow sees the same file.
/// `png_gray`: the image is a grayscale PNG (color type 0), which Pillow
/// opens as `L` or `I;16` even when a tRNS chunk makes it gray + alpha here.
fn to_rgb(img: DynamicImage, png_gray: bool) -> RgbImage {
    let (w, h) = (img.width(), img.height());
    match img {
        DynamicImage::ImageRgb8(rgb) => rgb,
        DynamicImage::ImageLuma8(l) => rgb_from_fn(w, h, l.as_raw(), 1, |p| [p[0]; 3]),
        DynamicImage::ImageLumaA8(la) => {
            rgb_from_fn(w, h, la.as_raw(), 2, |p| blend([p[0]; 3], p[1]))
        }
        DynamicImage::ImageRgba8(rgba) => {
            rgb_from_fn(w, h, rgba.as_raw(), 4, |p| blend([p[0], p[1], p[2]], p[3]))
        }
        DynamicImage::ImageRgb16(rgb) => rgb_from_fn(w, h, rgb.as_raw(), 3, |p| {
            [high_byte(p[0]), high_byte(p[1]), high_byte(p[2])]
        }),
        DynamicImage::ImageRgba16(rgba) => rgb_from_fn(w, h, rgba.as_raw(), 4, |p| {
            let rgb = [high_byte(p[0]), high_byte(p[1]), high_byte(p[2])];
            blend(rgb, high_byte(p[3]))
        }),
        DynamicImage::ImageLuma16(l) => rgb_from_fn(w, h, l.as_raw(), 1, |p| [clip_i16(p[0]); 3]),
        DynamicImage::ImageLumaA16(la) => rgb_from_fn(w, h, la.as_raw(), 2, |p| {
            let l = if png_gray {
                clip_i16(p[0])
            } else {
                high_byte(p[0])
            };
            blend([l; 3], high_byte(p[1]))
        }),
        other => {
            // Float images do not come out of the decoders enabled here.
            let rgba = other.to_rgba8();
            rgb_from_fn(w, h, rgba.as_raw(), 4, |p| blend([p[0], p[1], p[2]], p[3]))
        }
    }
}
