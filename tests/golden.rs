//! webclip against transformers: token ids, pixel values, embeddings and
//! probabilities of the tiny fixture models, on the CPU and on wgpu.

mod common;

use common::*;
use webclip::device;
use webclip::pipeline::ClipPipeline;

/// Embeddings and probabilities: both sides compute in f32, in a different
/// order of operations.
const EMBED_TOLERANCE: f32 = 1e-4;
/// Lossless formats decode to identical bytes, and the resampler is an exact
/// port of Pillow's, so only the final f32 arithmetic can differ.
const LOSSLESS_PIXEL_TOLERANCE: f32 = 1e-5;

fn is_jpeg(path: &str) -> bool {
    path.ends_with(".jpg") || path.ends_with(".jpeg")
}

/// Which kernel variants run is process-wide: the wgpu tests take turns.
static VARIANTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn load(model: &str, device: &burn::tensor::Device) -> ClipPipeline {
    ClipPipeline::load_dir(&model_dir(model), device).unwrap()
}

fn file_pixels(model: &ClipPipeline, image: &str) -> Vec<f32> {
    let bytes = std::fs::read(fixtures().join(image)).unwrap();
    model.pixel_values(&bytes, image).unwrap()
}

#[test]
fn token_ids_equal_transformers() {
    let inputs = inputs();
    let texts: Vec<&str> = inputs.texts.iter().map(String::as_str).collect();
    for model in MODELS {
        let clip = load(model, &device::cpu());
        let ids = clip.tokenizer.encode_batch(&texts).unwrap();
        let want = golden(model, "input_ids").int_rows();
        for ((got, want), text) in ids.iter().zip(&want).zip(&texts) {
            assert_eq!(got, want, "{model}: ids of {text:?}");
        }
    }
}

#[test]
fn pixel_values_equal_transformers() {
    let inputs = inputs();
    for model in MODELS {
        let clip = load(model, &device::cpu());
        let want = golden(model, "pixel_values").rows();
        for (image, want) in inputs.images.iter().zip(&want) {
            let got = file_pixels(&clip, image);
            let diff = max_abs_diff(&got, want);
            let tolerance = if is_jpeg(image) {
                JPEG_PIXEL_TOLERANCE
            } else {
                LOSSLESS_PIXEL_TOLERANCE
            };
            eprintln!("{model} {image}: pixel values max abs diff {diff:e}");
            assert!(
                diff <= tolerance,
                "{model} {image}: pixel values differ by {diff:e}"
            );
        }
    }
}

/// JPEG decoders may round the IDCT and chroma upsampling differently:
/// Pillow uses libjpeg-turbo, the image crate zune-jpeg, and they differ by up
/// to 4 levels on some pixels of 4:2:0 files. After normalizing, one level is
/// 1 / (255 * std) ~ 0.015, so 4 levels ~ 0.06.
const JPEG_PIXEL_TOLERANCE: f32 = 0.07;
/// What those few pixels move an embedding (unit norm): at most 2.1e-4 on the
/// fixtures; a wrong resize or a lost EXIF rotation moves it by far more.
const JPEG_EMBED_TOLERANCE: f32 = 1e-3;

/// The model on a GPU with shader-f16 keeps its matrices and attention's
/// key/value tiles in f16 (11 significant bits): embeddings move by up to
/// ~2.4e-4 on the fixtures.
const F16_TILES_TOLERANCE: f32 = 1e-3;

fn check_against_golden(device: &burn::tensor::Device) {
    check_against_golden_within(device, EMBED_TOLERANCE, JPEG_EMBED_TOLERANCE);
}

fn check_against_golden_within(device: &burn::tensor::Device, tolerance: f32, jpeg_tolerance: f32) {
    let inputs = inputs();
    let texts: Vec<&str> = inputs.texts.iter().map(String::as_str).collect();
    for model in MODELS {
        let clip = load(model, device);
        let pixels = golden(model, "pixel_values").rows();

        let image_embeds = clip.embed_images(&pixels).unwrap();
        let want_images = golden(model, "image_embeds").rows();
        assert_rows_close(
            &format!("{model} image embeds"),
            &image_embeds,
            &want_images,
            tolerance,
        );

        let text_embeds = clip.embed_texts(&texts).unwrap();
        assert_rows_close(
            &format!("{model} text embeds"),
            &text_embeds,
            &golden(model, "text_embeds").rows(),
            tolerance,
        );

        let probs = clip
            .classify(&pixels, &inputs.labels, &inputs.template)
            .unwrap();
        assert_rows_close(
            &format!("{model} probabilities"),
            &probs,
            &golden(model, "probs").rows(),
            tolerance,
        );

        // End to end from the image files.
        for (i, image) in inputs.images.iter().enumerate() {
            let embed = clip.embed_images(&[file_pixels(&clip, image)]).unwrap();
            let tolerance = if is_jpeg(image) {
                jpeg_tolerance
            } else {
                tolerance
            };
            assert_rows_close(
                &format!("{model} {image} from file"),
                &embed,
                &want_images[i..=i],
                tolerance,
            );
        }
    }
}

#[test]
fn cpu_matches_transformers() {
    check_against_golden(&device::cpu());
}

#[test]
fn wgpu_matches_transformers() {
    let _turn = VARIANTS.lock().unwrap_or_else(|e| e.into_inner());
    let device = device::wgpu().expect("a Vulkan driver (Mesa's lavapipe in CI)");
    // f32 kernels everywhere: the same numbers as the CPU path.
    webclip::kernels::allow_variants(false, false);
    check_against_golden(&device);
    // What runs by default: on a GPU with shader-f16, f16 matrices and
    // key/value tiles.
    webclip::kernels::reset_variants();
    check_against_golden_within(
        &device,
        F16_TILES_TOLERANCE,
        JPEG_EMBED_TOLERANCE + F16_TILES_TOLERANCE,
    );
}

/// The f16 path (matrices in f16 where the GPU has shader-f16; activations,
/// sums, softmax and LayerNorm in f32) against the f32 path: each embedding's
/// cosine with its f32 twin at least 0.9999, on the fixtures and on pixels a
/// million times larger, beyond f16's range (65504) from the first layer on:
/// in half-precision activations those become infinities and NaN.
#[test]
fn wgpu_f16_path_keeps_the_f32_embeddings() {
    let _turn = VARIANTS.lock().unwrap_or_else(|e| e.into_inner());
    let device = device::wgpu().expect("a Vulkan driver (Mesa's lavapipe in CI)");
    let has_f16 = webclip::kernels::gpu().unwrap().shader_f16;
    let inputs = inputs();
    let texts: Vec<&str> = inputs.texts.iter().map(String::as_str).collect();
    for model in MODELS {
        let pixels = golden(model, "pixel_values").rows();
        let large: Vec<Vec<f32>> = pixels
            .iter()
            .map(|row| row.iter().map(|v| v * 1e6).collect())
            .collect();
        let run = |f16: bool| {
            webclip::kernels::allow_variants(f16, false);
            let clip = load(model, &device);
            let before = webclip::kernels::launches().linear_f16;
            let embeds = [
                clip.embed_images(&pixels).unwrap(),
                clip.embed_images(&large).unwrap(),
                clip.embed_texts(&texts).unwrap(),
            ];
            (embeds, webclip::kernels::launches().linear_f16 - before)
        };
        let (half, half_launches) = run(true);
        let (full, _) = run(false);
        webclip::kernels::reset_variants();
        assert_eq!(
            half_launches > 0,
            has_f16,
            "{model}: f16 weights exactly where the GPU has shader-f16"
        );
        let mut worst = 1.0f32;
        for ((half, full), what) in half
            .iter()
            .zip(&full)
            .zip(["images", "large images", "texts"])
        {
            for (h, f) in half.iter().zip(full) {
                assert!(h.iter().all(|v| v.is_finite()), "{model} {what}: {h:?}");
                let cosine = h.iter().zip(f).map(|(a, b)| a * b).sum::<f32>()
                    / (h.iter().map(|a| a * a).sum::<f32>() * f.iter().map(|b| b * b).sum::<f32>())
                        .sqrt();
                assert!(cosine >= 0.9999, "{model} {what}: cosine {cosine}");
                worst = worst.min(cosine);
            }
        }
        eprintln!("{model}: f16 vs f32 path, lowest cosine {worst}");
    }
}
