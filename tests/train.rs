//! Contrastive training: the written model folder is the one that was
//! trained, the loss falls, runs are reproducible and resumable, and bad
//! training input is reported.

mod common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use safetensors::SafeTensors;
use webclip::config::ClipConfig;
use webclip::device;
use webclip::model::weights::{self, SaveDtype};
use webclip::pipeline::ClipPipeline;
use webclip::sketch::{self, Spread};
use webclip::tokenizer::ClipTokenizer;
use webclip::train::{self, DataSource, MAX_LOGIT_SCALE, TokenizerFiles, TrainOptions, Trainer};

fn tokenizer() -> TokenizerFiles {
    TokenizerFiles::read_dir(&common::fixtures().join("tokenizer")).unwrap()
}

/// A model small enough to train in a test: the real vocabulary (the real
/// tokenizer), tiny towers.
fn tiny_options(data: DataSource, steps: usize) -> TrainOptions {
    let mut options = TrainOptions::sketches();
    let m = &mut options.model;
    m.projection_dim = 16;
    m.text_config.hidden_size = 32;
    m.text_config.intermediate_size = 64;
    m.text_config.num_hidden_layers = 1;
    m.text_config.num_attention_heads = 2;
    m.vision_config.hidden_size = 32;
    m.vision_config.intermediate_size = 64;
    m.vision_config.num_hidden_layers = 1;
    m.vision_config.num_attention_heads = 2;
    m.vision_config.image_size = 32;
    m.vision_config.patch_size = 16;
    options.data = data;
    options.steps = steps;
    options.batch_size = 8;
    options.warmup_steps = 2;
    options.learning_rate = 3e-3;
    options.checkpoint_every = 2;
    options
}

fn sketches() -> DataSource {
    DataSource::Sketches {
        size: 64,
        spread: Spread::Standard,
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("webclip-train-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Every tensor of a safetensors file, by name, as f32.
fn tensors(path: &Path) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let bytes = std::fs::read(path).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let mut out: Vec<_> = file
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            let values = match view.dtype() {
                safetensors::Dtype::F32 => view
                    .data()
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                    .collect(),
                safetensors::Dtype::F16 => view
                    .data()
                    .chunks_exact(2)
                    .map(|b| half::f16::from_le_bytes(b.try_into().unwrap()).to_f32())
                    .collect(),
                _ => vec![],
            };
            (name, view.shape().to_vec(), values)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn saving_writes_back_every_tensor_as_it_was_read() {
    for (model, dtype) in [
        ("tiny-quickgelu", SaveDtype::F32),
        ("tiny-gelu", SaveDtype::F16),
    ] {
        let dir = common::model_dir(model);
        let config = ClipConfig::from_json(
            &std::fs::read_to_string(dir.join("config.json")).unwrap(),
            "c",
        )
        .unwrap();
        let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
        let (clip, params) =
            weights::load_clip_with_params(&bytes, "m", &config, &device::cpu()).unwrap();
        let out = temp_dir(&format!("roundtrip-{model}"));
        std::fs::create_dir_all(&out).unwrap();
        let written = out.join("model.safetensors");
        std::fs::write(&written, weights::save_clip(&clip, &params, dtype).unwrap()).unwrap();
        let original: Vec<_> = tensors(&dir.join("model.safetensors"))
            .into_iter()
            // A buffer, not a parameter: transformers recreates it.
            .filter(|(name, _, _)| !name.ends_with("position_ids"))
            .collect();
        let again = tensors(&written);
        assert_eq!(original.len(), again.len(), "{model}: tensor count");
        for (a, b) in original.iter().zip(&again) {
            assert_eq!((&a.0, &a.1), (&b.0, &b.1), "{model}: name and shape");
            assert_eq!(a.2, b.2, "{model}: values of {}", a.0);
        }
        std::fs::remove_dir_all(&out).unwrap();
    }
}

#[test]
fn initial_weights_follow_clip_and_the_seed() {
    let config = tiny_options(sketches(), 1).model;
    let cpu = device::cpu();
    let write = |seed| {
        let (clip, params) = train::init_clip(&config, seed, &cpu).unwrap();
        weights::save_clip(&clip, &params, SaveDtype::F32).unwrap()
    };
    assert_eq!(write(1), write(1));
    assert_ne!(write(1), write(2));
    let dir = temp_dir("init");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("m.safetensors"), write(1)).unwrap();
    let all = tensors(&dir.join("m.safetensors"));
    let get = |name: &str| all.iter().find(|t| t.0 == name).unwrap().2.clone();
    let std = |v: &[f32]| (v.iter().map(|x| x * x).sum::<f32>() / v.len() as f32).sqrt();
    let all_equal = |name: &str, value: f32| get(name).iter().all(|&v| v == value);
    assert_eq!(get("logit_scale"), [config.logit_scale_init_value]);
    assert!(all_equal("text_model.final_layer_norm.weight", 1.0));
    assert!(all_equal("vision_model.encoder.layers.0.mlp.fc1.bias", 0.0));
    // transformers: token embeddings N(0, 0.02); values N(0, d^-0.5 (2 L)^-0.5);
    // queries and keys 5 times that (see train/init.rs).
    let token_std = std(&get("text_model.embeddings.token_embedding.weight"));
    assert!((token_std - 0.02).abs() < 0.001, "{token_std}");
    let expected = 32f32.powf(-0.5) * 2f32.powf(-0.5);
    let v_std = std(&get("text_model.encoder.layers.0.self_attn.v_proj.weight"));
    assert!(
        (v_std - expected).abs() < 0.1 * expected,
        "{v_std} vs {expected}"
    );
    let q_std = std(&get(
        "vision_model.encoder.layers.0.self_attn.q_proj.weight",
    ));
    assert!((q_std - 5.0 * expected).abs() < 0.5 * expected, "{q_std}");
    // The class token starts empty; patches 1.5 times transformers' N(0, 0.02).
    assert!(all_equal("vision_model.embeddings.class_embedding", 0.0));
    let patch_std = std(&get("vision_model.embeddings.patch_embedding.weight"));
    assert!((patch_std - 0.03).abs() < 0.003, "{patch_std}");
    // Patch positions start as a sine-cosine grid, not noise.
    let positions = get("vision_model.embeddings.position_embedding.weight");
    let second_patch = &positions[64..96];
    assert!(
        second_patch.iter().any(|v| v.abs() > 0.3),
        "{second_patch:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_loss_falls_on_a_small_set_of_pairs() {
    // Eight fixture images, each with its own caption, seen again and again:
    // a working model and optimizer learn to match them.
    let dir = temp_dir("pairs");
    std::fs::create_dir_all(&dir).unwrap();
    let images = [
        "chelsea.png",
        "camera.png",
        "logo.png",
        "shapes_wide.png",
        "palette.png",
        "la.png",
        "rgba_alpha.png",
        "tiny_gradient.png",
    ];
    let captions = [
        "a cat",
        "a photographer",
        "a logo",
        "wide shapes",
        "a palette",
        "gray letters",
        "a transparent square",
        "a gradient",
    ];
    let lines: Vec<String> = images
        .iter()
        .zip(captions)
        .map(|(image, text)| {
            let path = common::fixtures().join("images").join(image);
            serde_json::json!({ "image": path, "text": text }).to_string()
        })
        .collect();
    let file = dir.join("pairs.jsonl");
    std::fs::write(&file, lines.join("\n")).unwrap();
    let options = tiny_options(DataSource::Pairs { file }, 40);
    let mut trainer = Trainer::new(options, tokenizer(), &device::cpu()).unwrap();
    let mut losses = Vec::new();
    while !trainer.finished() {
        let report = trainer.train_step().unwrap();
        assert!(report.logit_scale.ln() <= MAX_LOGIT_SCALE + 1e-6);
        losses.push(report.loss);
    }
    let first = losses[..4].iter().sum::<f32>() / 4.0;
    let last = losses[losses.len() - 4..].iter().sum::<f32>() / 4.0;
    // ln(8) = 2.08 is chance; the last steps must be far below it.
    assert!(first > 1.8, "first losses {first}");
    assert!(last < 0.5 * first, "loss went from {first} to {last}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn fine_tuning_starts_from_the_given_model_and_keeps_its_normalization() {
    let cpu = device::cpu();
    let base = temp_dir("base");
    let mut trainer = Trainer::new(tiny_options(sketches(), 2), tokenizer(), &cpu).unwrap();
    train::run(&mut trainer, &base, |_| {}).unwrap();
    drop(trainer);
    // The checkpoint folder is a model folder with the f32 weights.
    let from = base.join("checkpoint");

    // Options that differ from the base model's: its own must win.
    let mut options = tiny_options(sketches(), 1);
    options.model.vision_config.num_hidden_layers = 3;
    let mut tuned = Trainer::fine_tune(options, &from, &cpu).unwrap();
    assert_eq!(tuned.options().model.vision_config.num_hidden_layers, 1);
    let before = temp_dir("tuned-before");
    tuned.save(&before).unwrap();
    let base_weights = tensors(&from.join("model.safetensors"));
    assert_eq!(
        tensors(&before.join("checkpoint/model.safetensors")),
        base_weights
    );
    let read = |path: PathBuf| std::fs::read_to_string(path).unwrap();
    assert_eq!(
        read(before.join("preprocessor_config.json")),
        read(from.join("preprocessor_config.json"))
    );

    let report = tuned.train_step().unwrap();
    assert!(report.loss.is_finite());
    let after = temp_dir("tuned-after");
    tuned.save(&after).unwrap();
    let moved = tensors(&after.join("checkpoint/model.safetensors"))
        .iter()
        .zip(&base_weights)
        .filter(|(a, b)| a.2 != b.2)
        .count();
    assert!(moved > 0, "a step of fine-tuning changed no weight");

    let missing = Trainer::fine_tune(tiny_options(sketches(), 1), &base.join("nothing"), &cpu);
    assert!(missing.err().unwrap().to_string().contains("config.json"));
}

/// The token embedding's rows, as a run writes them.
fn token_table(dir: &Path) -> Vec<f32> {
    tensors(&dir.join("checkpoint/model.safetensors"))
        .into_iter()
        .find(|(name, _, _)| name == "text_model.embeddings.token_embedding.weight")
        .unwrap()
        .2
}

#[test]
fn training_moves_the_token_rows_of_caption_words_and_writes_the_rest_back_unchanged() {
    let cpu = device::cpu();
    let options = tiny_options(sketches(), 3);
    let width = options.model.text_config.hidden_size;
    let mut trainer = Trainer::new(options, tokenizer(), &cpu).unwrap();
    let start = temp_dir("rows-start");
    trainer.save(&start).unwrap();
    let end = temp_dir("rows-end");
    train::run(&mut trainer, &end, |_| {}).unwrap();

    let files = tokenizer();
    let tokenizer = ClipTokenizer::from_json(&files.tokenizer, None, 77).unwrap();
    let caption_tokens: HashSet<i64> = tokenizer
        .encode_batch(&sketch::caption_vocabulary())
        .unwrap()
        .into_iter()
        .flatten()
        .collect();
    let (before, after) = (token_table(&start), token_table(&end));
    assert_eq!(before.len(), after.len());
    let moved: Vec<i64> = (0..before.len() / width)
        .filter(|&row| before[row * width..][..width] != after[row * width..][..width])
        .map(|row| row as i64)
        .collect();
    assert!(moved.len() > 20, "only {} rows moved", moved.len());
    for row in &moved {
        assert!(caption_tokens.contains(row), "token {row} moved");
    }
    for dir in [start, end] {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn a_run_is_reproducible_and_a_resumed_run_ends_where_an_uninterrupted_one_does() {
    let cpu = device::cpu();
    let run = |name: &str, steps: usize| {
        let out = temp_dir(name);
        let mut trainer = Trainer::new(tiny_options(sketches(), steps), tokenizer(), &cpu).unwrap();
        train::run(&mut trainer, &out, |_| {}).unwrap();
        out
    };
    let whole = run("whole", 4);
    let again = run("again", 4);
    let whole_weights = tensors(&whole.join("checkpoint/model.safetensors"));
    assert_eq!(
        whole_weights,
        tensors(&again.join("checkpoint/model.safetensors"))
    );

    // Stop after 2 of 4 steps (the run's own checkpoint), then resume.
    let half = temp_dir("half");
    let mut trainer = Trainer::new(tiny_options(sketches(), 4), tokenizer(), &cpu).unwrap();
    for _ in 0..2 {
        trainer.train_step().unwrap();
    }
    trainer.save(&half).unwrap();
    drop(trainer);
    let mut resumed = Trainer::resume(&half, &cpu).unwrap();
    assert_eq!(resumed.step(), 2);
    train::run(&mut resumed, &half, |_| {}).unwrap();
    let resumed_weights = tensors(&half.join("checkpoint/model.safetensors"));
    for (a, b) in whole_weights.iter().zip(&resumed_weights) {
        assert_eq!(a.0, b.0);
        let diff =
            a.2.iter()
                .zip(&b.2)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0, f32::max);
        assert!(diff <= 1e-6, "{}: resumed differs by {diff}", a.0);
    }

    // Pixels are normalized by the drawings' own statistics: mostly white
    // paper, so a mean near 1 and a spread well below CLIP's photo values;
    // a resumed run keeps them.
    let preprocessor = |dir: &Path| -> serde_json::Value {
        serde_json::from_str(
            &std::fs::read_to_string(dir.join("preprocessor_config.json")).unwrap(),
        )
        .unwrap()
    };
    let stats = preprocessor(&whole);
    for channel in 0..3 {
        let mean = stats["image_mean"][channel].as_f64().unwrap();
        let std = stats["image_std"][channel].as_f64().unwrap();
        assert!((0.8..0.98).contains(&mean), "mean {mean}");
        assert!((0.05..0.25).contains(&std), "std {std}");
    }
    assert_eq!(stats, preprocessor(&half));

    // The exported folder is a model the inference code loads.
    let model = ClipPipeline::load_dir(&whole, &cpu).unwrap();
    let rows = model.embed_texts(&["a drawing of a star"]).unwrap();
    assert_eq!(rows[0].len(), 16);
    for dir in [whole, again, half] {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn bad_training_input_is_reported() {
    let cpu = device::cpu();
    let dir = temp_dir("bad");
    std::fs::create_dir_all(&dir).unwrap();
    let new = |data: DataSource, batch: usize| {
        let mut options = tiny_options(data, 2);
        options.batch_size = batch;
        Trainer::new(options, tokenizer(), &cpu).and_then(|mut t| t.train_step().map(|_| ()))
    };
    let err = new(sketches(), 1).unwrap_err().to_string();
    assert!(err.contains("at least 2"), "{err}");

    let file = dir.join("bad.jsonl");
    std::fs::write(&file, "{\"image\": \"a.png\", \"text\": \"x\"}\nnot json\n").unwrap();
    let err = new(DataSource::Pairs { file: file.clone() }, 2)
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 2"), "{err}");

    std::fs::write(&file, "{\"image\": \"missing.png\", \"text\": \"x\"}\n").unwrap();
    let err = new(DataSource::Pairs { file: file.clone() }, 2)
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing.png"), "{err}");

    std::fs::write(&file, "\n").unwrap();
    let err = new(DataSource::Pairs { file }, 2).unwrap_err().to_string();
    assert!(err.contains("no image-text pairs"), "{err}");

    let err = Trainer::resume(&dir.join("nothing"), &cpu)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("trainer.json"), "{err}");

    // A checkpoint saved before runs trained only the caption tokens' rows
    // holds optimizer state for the whole table: refused, not misread.
    let old = dir.join("old");
    let trainer = Trainer::new(tiny_options(sketches(), 2), tokenizer(), &cpu).unwrap();
    trainer.save(&old).unwrap();
    let state_path = old.join(train::CHECKPOINT_DIR).join("trainer.json");
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state_path).unwrap()).unwrap();
    state.as_object_mut().unwrap().remove("token_rows").unwrap();
    std::fs::write(&state_path, state.to_string()).unwrap();
    let err = Trainer::resume(&old, &cpu).err().unwrap().to_string();
    assert!(err.contains("start the run again"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
