//! Bad input gets a specific error, never a panic.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use webclip::device;
use webclip::pipeline::ClipPipeline;

/// A private copy of a fixture model folder that a test may damage.
fn scratch_model(model: &str, test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("webclip-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(model_dir(model)).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    dir
}

fn load_error(dir: &Path) -> String {
    match ClipPipeline::load_dir(dir, &device::cpu()) {
        Ok(_) => panic!("{} loaded although it is damaged", dir.display()),
        Err(e) => e.to_string(),
    }
}

/// Rewrites `model.safetensors` in `dir`, letting `edit` change the list of
/// (name, dtype, shape, bytes) entries.
fn rewrite_weights(dir: &Path, edit: impl FnOnce(&mut Vec<(String, Dtype, Vec<usize>, Vec<u8>)>)) {
    let path = dir.join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let mut entries: Vec<_> = file
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            (
                name,
                view.dtype(),
                view.shape().to_vec(),
                view.data().to_vec(),
            )
        })
        .collect();
    edit(&mut entries);
    let views: Vec<(String, TensorView)> = entries
        .iter()
        .map(|(name, dtype, shape, data)| {
            (
                name.clone(),
                TensorView::new(*dtype, shape.clone(), data).unwrap(),
            )
        })
        .collect();
    std::fs::write(&path, safetensors::serialize(views, None).unwrap()).unwrap();
}

#[test]
fn truncated_weights_name_the_file() {
    let dir = scratch_model("tiny-quickgelu", "truncated");
    let path = dir.join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let err = load_error(&dir);
    assert!(
        err.contains("model.safetensors") && err.contains("is truncated: its header describes"),
        "{err}"
    );
    std::fs::write(&path, b"").unwrap();
    let err = load_error(&dir);
    assert!(
        err.contains("model.safetensors: is shorter than a safetensors header"),
        "{err}"
    );
}

#[test]
fn missing_tensor_is_named() {
    let dir = scratch_model("tiny-quickgelu", "missing");
    rewrite_weights(&dir, |entries| {
        entries.retain(|(name, ..)| name != "text_projection.weight")
    });
    let err = load_error(&dir);
    assert!(err.contains("`text_projection.weight` is missing"), "{err}");
}

#[test]
fn wrong_shape_is_named() {
    let dir = scratch_model("tiny-quickgelu", "shape");
    rewrite_weights(&dir, |entries| {
        let entry = entries
            .iter_mut()
            .find(|(name, ..)| name == "text_model.final_layer_norm.weight")
            .unwrap();
        entry.2 = vec![entry.2[0] / 2, 2];
    });
    let err = load_error(&dir);
    assert!(
        err.contains("`text_model.final_layer_norm.weight` has shape [16, 2], expected [32]"),
        "{err}"
    );
}

/// Sets every f32 value of tensor `name` in `dir`'s weights to `value`.
fn fill_tensor(dir: &Path, name: &str, value: f32) {
    rewrite_weights(dir, |entries| {
        let entry = entries.iter_mut().find(|(n, ..)| n == name).unwrap();
        assert_eq!(entry.1, Dtype::F32, "the fixture stores f32");
        entry.3 = value.to_le_bytes().repeat(entry.3.len() / 4);
    });
}

#[test]
fn non_finite_weights_are_named() {
    let dir = scratch_model("tiny-quickgelu", "nan-weights");
    fill_tensor(&dir, "text_model.final_layer_norm.weight", f32::NAN);
    let err = load_error(&dir);
    assert!(
        err.contains("`text_model.final_layer_norm.weight` holds NaN at index 0"),
        "{err}"
    );
}

/// Finite weights whose products overflow (a pooled vector of ones times a
/// projection of 3e38 is infinite, and normalising it gives NaN): an error
/// instead of an answer on every device; the same model keeps answering text.
#[test]
fn non_finite_results_are_errors_on_every_device() {
    let dir = scratch_model("tiny-quickgelu", "overflow");
    fill_tensor(&dir, "vision_model.post_layernorm.weight", 0.0);
    fill_tensor(&dir, "vision_model.post_layernorm.bias", 1.0);
    fill_tensor(&dir, "visual_projection.weight", 3e38);
    let pixels = vec![vec![0.5; 3 * 224 * 224]];
    let mut devices = vec![device::cpu()];
    devices.extend(device::wgpu().ok());
    for device in devices {
        let model = ClipPipeline::load_dir(&dir, &device).unwrap();
        let err = model.embed_images(&pixels).unwrap_err().to_string();
        assert!(
            err.contains("output holds a NaN or an infinity"),
            "{device:?}: {err}"
        );
        assert!(
            model.embed_texts(&["a cat"]).unwrap()[0]
                .iter()
                .all(|v| v.is_finite())
        );
    }
}

#[test]
fn a_huge_logit_scale_still_gives_probabilities() {
    let dir = scratch_model("tiny-quickgelu", "logit-scale");
    fill_tensor(&dir, "logit_scale", 1000.0);
    let model = ClipPipeline::load_dir(&dir, &device::cpu()).unwrap();
    let pixels = vec![vec![0.5; 3 * 224 * 224]];
    let probs = model
        .classify(&pixels, &["cat", "dog", "car"], "a photo of a {}")
        .unwrap();
    let sum: f32 = probs[0].iter().sum();
    assert!((sum - 1.0).abs() < 1e-4, "{probs:?}");
}

#[test]
fn integer_weights_are_rejected_by_name() {
    let dir = scratch_model("tiny-quickgelu", "dtype");
    rewrite_weights(&dir, |entries| {
        let entry = entries
            .iter_mut()
            .find(|(name, ..)| name == "visual_projection.weight")
            .unwrap();
        entry.1 = Dtype::I32;
    });
    let err = load_error(&dir);
    assert!(
        err.contains("`visual_projection.weight` has dtype I32"),
        "{err}"
    );
}

fn to_bf16(data: &[u8]) -> Vec<u8> {
    data.chunks_exact(4)
        .flat_map(|b| half::bf16::from_f32(f32::from_le_bytes(b.try_into().unwrap())).to_le_bytes())
        .collect()
}

fn from_bf16_to_f32(data: &[u8]) -> Vec<u8> {
    data.chunks_exact(2)
        .flat_map(|b| {
            half::bf16::from_le_bytes([b[0], b[1]])
                .to_f32()
                .to_le_bytes()
        })
        .collect()
}

#[test]
fn bf16_weights_load_as_their_f32_values() {
    // The same numbers stored as bf16 and as f32 must give the same model.
    let bf16_dir = scratch_model("tiny-quickgelu", "bf16");
    rewrite_weights(&bf16_dir, |entries| {
        for entry in entries.iter_mut().filter(|e| e.1 == Dtype::F32) {
            entry.1 = Dtype::BF16;
            entry.3 = to_bf16(&entry.3);
        }
    });
    let f32_dir = scratch_model("tiny-quickgelu", "bf16-as-f32");
    std::fs::copy(
        bf16_dir.join("model.safetensors"),
        f32_dir.join("model.safetensors"),
    )
    .unwrap();
    rewrite_weights(&f32_dir, |entries| {
        for entry in entries.iter_mut().filter(|e| e.1 == Dtype::BF16) {
            entry.1 = Dtype::F32;
            entry.3 = from_bf16_to_f32(&entry.3);
        }
    });
    let texts = ["a photo of a cat", "dog"];
    let a = ClipPipeline::load_dir(&bf16_dir, &device::cpu())
        .unwrap()
        .embed_texts(&texts)
        .unwrap();
    let b = ClipPipeline::load_dir(&f32_dir, &device::cpu())
        .unwrap()
        .embed_texts(&texts)
        .unwrap();
    assert_rows_close("bf16 vs f32", &a, &b, 0.0);
    // And they are close to the full-precision model (bf16 keeps 8 bits).
    let full = ClipPipeline::load_dir(&model_dir("tiny-quickgelu"), &device::cpu()).unwrap();
    assert_rows_close(
        "bf16 vs original",
        &a,
        &full.embed_texts(&texts).unwrap(),
        0.05,
    );
}

#[test]
fn missing_files_are_named() {
    let dir = scratch_model("tiny-quickgelu", "nofiles");
    std::fs::remove_file(dir.join("config.json")).unwrap();
    assert!(load_error(&dir).contains("config.json"));

    let dir = scratch_model("tiny-quickgelu", "onlybin");
    std::fs::rename(dir.join("model.safetensors"), dir.join("pytorch_model.bin")).unwrap();
    let err = load_error(&dir);
    assert!(
        err.contains("pytorch_model.bin") && err.contains("refs/pr/15"),
        "{err}"
    );

    let dir = scratch_model("tiny-quickgelu", "notokenizer");
    std::fs::write(dir.join("tokenizer.json"), b"{\"version\": ").unwrap();
    assert!(load_error(&dir).contains("tokenizer.json"));
}

#[test]
fn unsupported_model_type_is_named() {
    let dir = scratch_model("tiny-quickgelu", "modeltype");
    let config = std::fs::read_to_string(dir.join("config.json")).unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&config).unwrap();
    value["model_type"] = "siglip".into();
    std::fs::write(dir.join("config.json"), value.to_string()).unwrap();
    let err = load_error(&dir);
    assert!(err.contains("siglip"), "{err}");
}

#[test]
fn preprocessor_that_disagrees_with_the_model_is_rejected() {
    let dir = scratch_model("tiny-gelu", "crop");
    let config = std::fs::read_to_string(dir.join("preprocessor_config.json")).unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&config).unwrap();
    value["crop_size"] = serde_json::json!({"height": 224, "width": 224});
    std::fs::write(dir.join("preprocessor_config.json"), value.to_string()).unwrap();
    let err = load_error(&dir);
    assert!(
        err.contains("preprocessor_config.json") && err.contains("224"),
        "{err}"
    );
}

#[test]
fn corrupt_images_and_empty_inputs_are_errors() {
    let model = ClipPipeline::load_dir(&model_dir("tiny-gelu"), &device::cpu()).unwrap();
    let err = model
        .pixel_values(b"definitely not an image", "notes.txt")
        .unwrap_err()
        .to_string();
    assert!(err.contains("notes.txt"), "{err}");

    let png = std::fs::read(fixtures().join("images/chelsea.png")).unwrap();
    let err = model
        .pixel_values(&png[..png.len() / 3], "chelsea.png")
        .unwrap_err()
        .to_string();
    assert!(err.contains("chelsea.png"), "{err}");

    assert!(
        model
            .embed_texts(&[])
            .unwrap_err()
            .to_string()
            .contains("no texts")
    );
    assert!(
        model
            .embed_images(&[vec![0.0; 5]])
            .unwrap_err()
            .to_string()
            .contains("expected 3x96x96")
    );
    let pixels = vec![vec![0.0; 3 * 96 * 96]];
    let err = model
        .classify::<&str>(&pixels, &[], "a photo of a {}")
        .unwrap_err()
        .to_string();
    assert!(err.contains("no labels"), "{err}");
    // The model keeps working after errors.
    assert_eq!(
        model
            .classify(&pixels, &["cat", "dog"], "a photo of a {}")
            .unwrap()[0]
            .len(),
        2
    );
}

/// The devices every verdict must hold on: the CPU, and wgpu where it starts.
fn devices() -> Vec<burn::tensor::Device> {
    let mut devices = vec![device::cpu()];
    devices.extend(device::wgpu().ok());
    devices
}

/// Edits `dir`'s config.json (or another JSON file of the folder).
fn edit_json(dir: &Path, file: &str, edit: impl FnOnce(&mut serde_json::Value)) {
    let text = std::fs::read_to_string(dir.join(file)).unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
    edit(&mut value);
    std::fs::write(dir.join(file), value.to_string()).unwrap();
}

/// The load error of `dir` on every device, the same everywhere; a sound
/// model still loads and answers on that device afterwards.
fn load_error_everywhere(dir: &Path) -> String {
    let mut verdicts = devices().into_iter().map(|device| {
        let err = match ClipPipeline::load_dir(dir, &device) {
            Ok(_) => panic!(
                "{} loaded on {device:?} although it is damaged",
                dir.display()
            ),
            Err(e) => e.to_string(),
        };
        let sound = ClipPipeline::load_dir(&model_dir("tiny-quickgelu"), &device).unwrap();
        assert_eq!(sound.embed_texts(&["a cat"]).unwrap().len(), 1);
        err
    });
    let first = verdicts.next().unwrap();
    for other in verdicts {
        assert_eq!(other, first, "the same verdict on every device");
    }
    first
}

#[test]
fn config_fields_that_cannot_work_are_named_on_every_device() {
    type Case = (&'static str, fn(&mut serde_json::Value), &'static str);
    let cases: [Case; 4] = [
        (
            "eos",
            |c| c["text_config"]["eos_token_id"] = 60000.into(),
            "text_config.eos_token_id is 60000, outside the vocabulary of 49408 tokens",
        ),
        (
            "eps",
            |c| c["vision_config"]["layer_norm_eps"] = (-10).into(),
            "vision_config.layer_norm_eps is -10; it must be a positive number",
        ),
        (
            "positions",
            |c| c["text_config"]["max_position_embeddings"] = 2.into(),
            "text_config.max_position_embeddings is 2; it must be from 3",
        ),
        (
            "huge",
            |c| {
                c["vision_config"]["image_size"] = (1u64 << 32).into();
                c["vision_config"]["patch_size"] = (1u64 << 32).into();
            },
            "vision_config.image_size is 4294967296; it must be from 1 to 8192",
        ),
    ];
    for (name, edit, expected) in cases {
        let dir = scratch_model("tiny-quickgelu", &format!("config-{name}"));
        edit_json(&dir, "config.json", edit);
        let err = load_error_everywhere(&dir);
        assert!(
            err.contains("config.json") && err.contains(expected),
            "{name}: {err}"
        );
    }
}

#[test]
fn a_tokenizer_that_is_not_the_models_is_named() {
    // A WordPiece tokenizer of 12 tokens beside a 49,408-token CLIP.
    let dir = scratch_model("tiny-quickgelu", "wordpiece");
    let vocab: serde_json::Map<String, serde_json::Value> = [
        "[PAD]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "a",
        "photo",
        "of",
        "cat",
        "dog",
        "car",
        "<|endoftext|>",
        "##s",
    ]
    .iter()
    .enumerate()
    .map(|(id, token)| (token.to_string(), id.into()))
    .collect();
    let tokenizer = serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null, "added_tokens": [],
        "normalizer": null, "pre_tokenizer": {"type": "Whitespace"}, "post_processor": null,
        "decoder": null,
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": vocab}
    });
    std::fs::write(dir.join("tokenizer.json"), tokenizer.to_string()).unwrap();
    std::fs::remove_file(dir.join("tokenizer_config.json")).ok();
    let err = load_error_everywhere(&dir);
    assert!(
        err.contains("tokenizer.json has a vocabulary of 12 tokens")
            && err.contains("text_config.vocab_size is 49408"),
        "{err}"
    );

    // CLIP's tokenizer, but a config that pools at a token it never ends with.
    let dir = scratch_model("tiny-gelu", "pooling");
    edit_json(&dir, "config.json", |c| {
        c["text_config"]["eos_token_id"] = 49406.into()
    });
    let err = load_error_everywhere(&dir);
    assert!(
        err.contains("tokenizer.json ends every text with token 49407")
            && err.contains("eos_token_id (49406)"),
        "{err}"
    );
}

#[test]
fn a_preprocessor_without_a_crop_names_its_file() {
    let dir = scratch_model("tiny-gelu", "nocrop");
    edit_json(&dir, "preprocessor_config.json", |p| {
        p["do_center_crop"] = false.into();
        p["do_resize"] = false.into();
    });
    let err = load_error_everywhere(&dir);
    assert!(
        err.contains("preprocessor_config.json") && err.contains("do_center_crop is false"),
        "{err}"
    );
    let dir = scratch_model("tiny-gelu", "hugecrop");
    edit_json(&dir, "preprocessor_config.json", |p| {
        p["crop_size"] = (1u64 << 32).into();
    });
    let err = load_error_everywhere(&dir);
    assert!(
        err.contains("`crop_size` must be an integer from 1 to 16384, got 4294967296"),
        "{err}"
    );
}

/// On wgpu our kernels are checked against Burn's own operations at load: on
/// lavapipe they agree, so no note is given and the model runs them.
#[test]
fn kernels_pass_their_check_at_load_on_the_gpu() {
    let Ok(gpu) = device::wgpu() else {
        eprintln!("no wgpu adapter: skipped");
        return;
    };
    let model = ClipPipeline::load_dir(&model_dir("tiny-quickgelu"), &gpu).unwrap();
    assert_eq!(model.notes(), &[] as &[String]);
    let before = webclip::kernels::launches().attention;
    model.embed_texts(&["a photo of a kernel check"]).unwrap();
    assert!(
        webclip::kernels::launches().attention > before,
        "the kernels still run"
    );
    assert_eq!(webclip::kernels::gpu_fault(), None);
}
