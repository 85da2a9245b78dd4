//! What webclip reads from files, under arbitrary bytes: each [`Target`]
//! must end in a value or a named error, never a panic, a hang or a result
//! that breaks the promises checked here (shapes, finite values).
//!
//! `cargo +nightly fuzz run TARGET` drives them with libFuzzer (coverage
//! guided, keeping what it finds in `fuzz/corpus/TARGET`). The test in
//! `short_run.rs` runs the same targets on stable for a few seconds each, from
//! the seeds made here (and that corpus, where present), with simple
//! mutations: a short run on every test run.

use std::sync::OnceLock;

use burn::tensor::{Tensor, TensorData};
use webclip::config::ClipConfig;
use webclip::device;
use webclip::model::weights::{SaveDtype, build_clip, load_clip, save_clip};
use webclip::pipeline::read_rows;
use webclip::preprocess::{self, PreprocessConfig};
use webclip::tokenizer::ClipTokenizer;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// `model.safetensors` of a tiny model; when it loads, one image and one
    /// text go through it.
    Safetensors,
    /// `config.json`.
    Config,
    /// `preprocessor_config.json`; when it parses, a small image goes through it.
    Preprocessor,
    /// Text through CLIP's tokenizer (first byte 0), or a `tokenizer_config.json`
    /// beside it (first byte 1).
    Tokenizer,
    /// An image file, decoded and preprocessed for a 224-pixel model.
    Image,
}

pub const TARGETS: [Target; 5] = [
    Target::Safetensors,
    Target::Config,
    Target::Preprocessor,
    Target::Tokenizer,
    Target::Image,
];

/// CLIP's real tokenizer, as the model folders hold it.
const TOKENIZER_JSON: &[u8] = include_bytes!("../../tests/fixtures/tokenizer/tokenizer.json");

/// The model the safetensors target loads: every part of CLIP, each tiny.
fn tiny_config() -> ClipConfig {
    let json = r#"{"projection_dim": 4,
        "text_config": {"vocab_size": 64, "hidden_size": 8, "intermediate_size": 16,
            "num_hidden_layers": 1, "num_attention_heads": 2, "max_position_embeddings": 8,
            "eos_token_id": 2},
        "vision_config": {"hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 1,
            "num_attention_heads": 2, "image_size": 4, "patch_size": 2}}"#;
    ClipConfig::from_json(json, "tiny config").expect("a valid config")
}

/// Largest resize or crop the preprocessor target carries out: a config may
/// ask for 16384 pixels a side, which is memory, not a bug.
const PREPROCESS_SIDE_LIMIT: u32 = 512;

impl Target {
    pub fn name(self) -> &'static str {
        match self {
            Target::Safetensors => "safetensors",
            Target::Config => "config",
            Target::Preprocessor => "preprocessor",
            Target::Tokenizer => "tokenizer",
            Target::Image => "image",
        }
    }

    /// Runs one input; panics only where webclip breaks a promise.
    pub fn run(self, data: &[u8]) {
        match self {
            Target::Safetensors => safetensors(data),
            Target::Config => config(data),
            Target::Preprocessor => preprocessor(data),
            Target::Tokenizer => tokenizer(data),
            Target::Image => image(data),
        }
    }

    /// Valid inputs to start from, made here (a fuzzing run's corpus adds
    /// the inputs it found interesting).
    pub fn seeds(self) -> Vec<Vec<u8>> {
        match self {
            Target::Safetensors => {
                let config = tiny_config();
                let values = |_: &str, shape: &[usize]| {
                    let count: usize = shape.iter().product();
                    (0..count).map(|i| ((i % 7) as f32 - 3.0) * 0.1).collect()
                };
                let (clip, params) =
                    build_clip(&config, &values, &device::cpu(), false).expect("builds");
                [SaveDtype::F32, SaveDtype::F16]
                    .map(|dtype| save_clip(&clip, &params, dtype).expect("saves"))
                    .to_vec()
            }
            Target::Config => vec![
                b"{}".to_vec(),
                tiny_config().to_json().into_bytes(),
                include_bytes!("../../tests/fixtures/models/tiny-quickgelu/config.json").to_vec(),
            ],
            Target::Preprocessor => vec![
                PreprocessConfig::clip_default(16).to_json().into_bytes(),
                br#"{"size": 20, "crop_size": [8, 12], "do_normalize": false}"#.to_vec(),
            ],
            Target::Tokenizer => vec![
                b"\0a photo of a cat".to_vec(),
                "\0ünïcødé 🙂 text, with punctuation!".as_bytes().to_vec(),
                b"\x01{\"pad_token\": \"<|endoftext|>\"}".to_vec(),
            ],
            Target::Image => [
                "tiny_gradient.png",
                "palette.png",
                "shapes.webp",
                "first_frame.gif",
            ]
            .iter()
            .map(|name| {
                let path = format!(
                    "{}/../tests/fixtures/images/{name}",
                    env!("CARGO_MANIFEST_DIR")
                );
                std::fs::read(path).expect("fixture image")
            })
            .collect(),
        }
    }
}

fn safetensors(data: &[u8]) {
    let config = tiny_config();
    let cpu = device::cpu();
    let Ok(clip) = load_clip(&data, "model.safetensors", &config, &cpu) else {
        return;
    };
    let size = config.vision_config.image_size;
    let pixels = Tensor::<4>::from_data(
        TensorData::new(vec![0.5f32; 3 * size * size], [1, 3, size, size]),
        &cpu,
    );
    check_rows(read_rows(clip.image_embeds(pixels)), config.projection_dim);
    let ids = vec![vec![0, 5, 63, 2, 2, 2, 2, 2]];
    if let Ok(texts) = clip.text_embeds(&ids) {
        check_rows(read_rows(texts), config.projection_dim);
    }
}

/// Results are unit rows of the promised width, or an error.
fn check_rows(rows: webclip::Result<Vec<Vec<f32>>>, dim: usize) {
    if let Ok(rows) = rows {
        for row in rows {
            assert_eq!(row.len(), dim);
            let norm: f32 = row.iter().map(|v| v * v).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-3 || norm == 0.0, "norm {norm}");
        }
    }
}

fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = ClipConfig::from_json(text, "config.json") {
        // What the loader computes from a valid config must not overflow.
        let vision = &config.vision_config;
        let _ = vision.num_patches() * vision.hidden_size;
        let _ = config.text_config.head_dim();
        let again = ClipConfig::from_json(&config.to_json(), "written config.json");
        assert_eq!(
            again.ok().as_ref(),
            Some(&config),
            "a config survives writing"
        );
    }
}

fn preprocessor(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = PreprocessConfig::from_json(text, "preprocessor_config.json") else {
        return;
    };
    let sides = [config.shortest_edge, config.crop_height, config.crop_width];
    if sides.iter().any(|&side| side > PREPROCESS_SIDE_LIMIT) {
        return;
    }
    let image = image::RgbImage::from_fn(7, 5, |x, y| image::Rgb([x as u8 * 30, y as u8 * 40, 9]));
    let pixels = preprocess::preprocess(&image, &config);
    let (w, h) = match config.do_center_crop {
        true => (config.crop_width, config.crop_height),
        false => config.resized_size(7, 5),
    };
    assert_eq!(pixels.len(), 3 * w as usize * h as usize);
}

fn tokenizer(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    // Reading tokenizer.json takes far longer than encoding: once for texts.
    static CLIP: OnceLock<ClipTokenizer> = OnceLock::new();
    let mut with_config = None;
    let (tokenizer, input) = match mode {
        1 => match ClipTokenizer::from_json(TOKENIZER_JSON, Some(text), 77) {
            Ok(tokenizer) => (&*with_config.insert(tokenizer), "a photo of a cat"),
            Err(_) => return,
        },
        _ => (
            CLIP.get_or_init(|| {
                ClipTokenizer::from_json(TOKENIZER_JSON, None, 77).expect("CLIP's")
            }),
            text,
        ),
    };
    if let Ok(rows) = tokenizer.encode_batch(&[input]) {
        for row in rows {
            assert_eq!(row.len(), 77, "every text is padded or cut to 77 tokens");
            assert!(
                row.iter().all(|id| (0..49408).contains(id)),
                "ids in the vocabulary"
            );
        }
    }
}

fn image(data: &[u8]) {
    let config = PreprocessConfig::clip_default(224);
    if let Ok(pixels) = preprocess::pixel_values(data, "fuzz input", &config) {
        assert_eq!(pixels.len(), 3 * 224 * 224);
        assert!(pixels.iter().all(|v| v.is_finite()));
    }
}

#[cfg(test)]
mod short_run;
