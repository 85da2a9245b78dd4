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

mod config;
mod decode;
mod resample;

use image::RgbImage;

use crate::error::Result;

pub use config::{CLIP_MEAN, CLIP_STD, PreprocessConfig, shortest_edge_size};
pub use decode::{
    MAX_DECODED_BYTES, MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE, composite_on_white, decode_image,
};
pub use resample::resize_bicubic_pil;
use resample::resize_region;

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
    use crate::error::Error;
    use image::{ImageEncoder, Rgb};

    /// Deterministic test pattern with hard jumps (values wrap at 256).
    fn pattern(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            Rgb(std::array::from_fn(|c| {
                ((x * 37 + y * 91 + c as u32 * 53 + x * y * 7) % 256) as u8
            }))
        })
    }

    /// `img` written by `encoder`.
    fn encode(encoder: impl ImageEncoder, img: &RgbImage) {
        let (width, height) = img.dimensions();
        encoder
            .write_image(img.as_raw(), width, height, image::ExtendedColorType::Rgb8)
            .unwrap();
    }

    fn png_bytes(img: &RgbImage, exif: Option<Vec<u8>>) -> Vec<u8> {
        let mut out = Vec::new();
        let mut png = image::codecs::png::PngEncoder::new(&mut out);
        if let Some(exif) = exif {
            png.set_exif_metadata(exif).unwrap();
        }
        encode(png, img);
        out
    }

    fn jpeg_bytes(img: &RgbImage) -> Vec<u8> {
        let mut out = Vec::new();
        encode(
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90),
            img,
        );
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
