//! The `webclip` command line, as scripts call it.

mod common;

use std::process::{Command, Output};

use common::*;
use webclip::device;
use webclip::eval::drawings::{Variation, held_out_drawing};
use webclip::pipeline::ClipPipeline;
use webclip::sketch::CATEGORIES;

fn webclip(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_webclip"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout_json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stderr)))
}

fn json_rows(value: &serde_json::Value) -> Vec<Vec<f32>> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
                .collect()
        })
        .collect()
}

/// Index of `image` in the golden inputs.
fn golden_index(image: &str) -> usize {
    inputs().images.iter().position(|i| i == image).unwrap()
}

#[test]
fn embed_prints_golden_embeddings_in_argument_order() {
    let model = model_dir("tiny-quickgelu");
    let inputs = inputs();
    let image = "images/chelsea.png";
    let output = webclip(&[
        "embed",
        "--model",
        model.to_str().unwrap(),
        "--image",
        fixtures().join(image).to_str().unwrap(),
        "--text",
        &inputs.texts[1],
        "--text",
        &inputs.texts[0],
        "--json",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let value = stdout_json(&output);
    let images = golden("tiny-quickgelu", "image_embeds").rows();
    let texts = golden("tiny-quickgelu", "text_embeds").rows();
    let i = golden_index(image);
    assert_rows_close(
        "image",
        &json_rows(&value["image_embeds"]),
        &images[i..=i],
        1e-4,
    );
    let want = vec![texts[1].clone(), texts[0].clone()];
    assert_rows_close("texts", &json_rows(&value["text_embeds"]), &want, 1e-4);
}

#[test]
fn classify_a_folder_survives_a_bad_image() {
    let dir = std::env::temp_dir().join(format!("webclip-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("nested")).unwrap();
    let good = ["images/chelsea.png", "images/shapes.webp"];
    std::fs::copy(fixtures().join(good[0]), dir.join("a-chelsea.png")).unwrap();
    std::fs::copy(fixtures().join(good[1]), dir.join("nested/b-shapes.webp")).unwrap();
    std::fs::write(dir.join("broken.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
    std::fs::write(dir.join("notes.txt"), b"hello").unwrap();

    let inputs = inputs();
    let model = model_dir("tiny-gelu");
    let mut args = vec![
        "classify",
        "--model",
        model.to_str().unwrap(),
        dir.to_str().unwrap(),
        "--json",
    ];
    for label in &inputs.labels {
        args.extend(["--label", label]);
    }
    let output = webclip(&args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "a broken image must fail the run");
    assert!(stderr.contains("broken.png"), "{stderr}");
    assert!(
        stderr.contains("skipping") && stderr.contains("notes.txt"),
        "{stderr}"
    );

    let value = stdout_json(&output);
    let results = value["results"].as_array().unwrap();
    assert_eq!(results.len(), 2, "{value}");
    let probs = golden("tiny-gelu", "probs").rows();
    for (result, image) in results.iter().zip(good) {
        let got = json_rows(&serde_json::json!([result["probs"]]));
        let want = &probs[golden_index(image)];
        assert_rows_close(image, &got, std::slice::from_ref(want), 1e-4);
        let top = want
            .iter()
            .enumerate()
            .fold(0, |b, (i, p)| if *p > want[b] { i } else { b });
        assert_eq!(result["top"], inputs.labels[top]);
    }
}

#[test]
fn classify_prints_a_percent_table() {
    let model = model_dir("tiny-gelu");
    let labels = std::env::temp_dir().join(format!("webclip-labels-{}.txt", std::process::id()));
    std::fs::write(&labels, "# classes\ncat\n\ndog\n").unwrap();
    let image = fixtures().join("images/chelsea.png");
    let output = webclip(&[
        "classify",
        "--model",
        model.to_str().unwrap(),
        image.to_str().unwrap(),
        "--labels-file",
        labels.to_str().unwrap(),
    ]);
    std::fs::remove_file(&labels).unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let table = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 2, "{table}");
    assert!(
        lines[0].contains("cat") && lines[0].contains("dog"),
        "{table}"
    );
    let percents: Vec<f32> = lines[1]
        .split_whitespace()
        .filter_map(|cell| cell.strip_suffix('%'))
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(percents.len(), 2, "{table}");
    assert!(
        (percents.iter().sum::<f32>() - 100.0).abs() < 0.15,
        "{table}"
    );
}

#[test]
fn errors_are_reported_with_a_failing_exit() {
    let output = webclip(&[
        "embed",
        "--model",
        "/nonexistent/model",
        "--text",
        "hi",
        "--json",
    ]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("/nonexistent/model/config.json"),
        "{stderr}"
    );

    let model = model_dir("tiny-gelu");
    let output = webclip(&[
        "classify",
        "--model",
        model.to_str().unwrap(),
        "/nonexistent.png",
        "--label",
        "cat",
    ]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("/nonexistent.png"));

    let output = webclip(&["embed", "--model", model.to_str().unwrap(), "--json"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("nothing to embed"));
}

#[test]
fn train_writes_a_model_that_eval_and_classify_read() {
    let out = std::env::temp_dir().join(format!("webclip-cli-train-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    let config = out.join("tiny-config.json");
    std::fs::write(
        &config,
        r#"{"projection_dim": 16,
            "text_config": {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2},
            "vision_config": {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2, "image_size": 32, "patch_size": 16}}"#,
    )
    .unwrap();
    let model = out.join("model");
    let tokenizer = fixtures().join("tokenizer");
    let train = |extra: &[&str]| {
        let mut args = vec![
            "train",
            "--out",
            model.to_str().unwrap(),
            "--tokenizer",
            tokenizer.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        webclip(&args)
    };
    let common = [
        "--model-config",
        config.to_str().unwrap(),
        "--steps",
        "2",
        "--batch-size",
        "4",
    ];
    let output = train(&common);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for file in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "preprocessor_config.json",
    ] {
        assert!(model.join(file).exists(), "{file} missing");
    }

    // A second run into the same folder must not overwrite the first.
    let output = train(&common);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--resume"));
    // Resuming a finished run changes nothing and succeeds.
    let output = train(&["--resume"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let svg = out.join("confusion.svg");
    let output = webclip(&[
        "eval",
        "--model",
        model.to_str().unwrap(),
        "--per-category",
        "2",
        "--shots",
        "1",
        "--confusion",
        svg.to_str().unwrap(),
        "--json",
    ]);
    let report = stdout_json(&output);
    assert_eq!(report["drawings"], 40);
    let zero_shot = report["zero_shot"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&zero_shot));
    assert!(report["linear_probe"]["1"].as_f64().is_some());
    assert!(
        std::fs::read_to_string(&svg)
            .unwrap()
            .contains("lightning bolt")
    );

    let output = webclip(&[
        "classify",
        "--model",
        model.to_str().unwrap(),
        fixtures().join("images/chelsea.png").to_str().unwrap(),
        "--label",
        "cat",
        "--label",
        "star",
        "--json",
    ]);
    let probs = &stdout_json(&output)["results"][0]["probs"];
    let sum: f64 = probs
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_f64().unwrap())
        .sum();
    assert!((sum - 1.0).abs() < 1e-5, "{sum}");
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn endless_inputs_are_refused_before_memory_runs_out() {
    let model = model_dir("tiny-gelu");
    let model = model.to_str().unwrap();
    let output = webclip(&["embed", "--model", model, "--image", "/dev/zero", "--json"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("/dev/zero is too large to be an image file (at most 256 MB)"),
        "{stderr}"
    );
    let output = webclip(&[
        "classify",
        "--model",
        model,
        &fixtures().join("images/chelsea.png").display().to_string(),
        "--labels-file",
        "/dev/zero",
    ]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("/dev/zero is too large to be a text file (at most 16 MB)"),
        "{stderr}"
    );
}

/// The Vulkan loader complains on stderr when XDG_RUNTIME_DIR is unset, in
/// words that read like webclip's own errors; a GPU run says nothing.
#[test]
fn a_gpu_run_without_a_runtime_dir_prints_no_loader_noise() {
    let model = model_dir("tiny-gelu");
    let output = Command::new(env!("CARGO_BIN_EXE_webclip"))
        .args([
            "embed",
            "--model",
            model.to_str().unwrap(),
            "--device",
            "wgpu",
        ])
        .args(["--text", "a cat", "--json"])
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("XDG_RUNTIME_DIR"), "{stderr}");
    if output.status.success() {
        assert_eq!(json_rows(&stdout_json(&output)["text_embeds"]).len(), 1);
    }
}

/// A folder of copies of fixture images, for a test to change.
fn photo_folder(test: &str, images: &[&str]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("webclip-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("photos")).unwrap();
    for image in images {
        std::fs::copy(
            fixtures().join("images").join(image),
            dir.join("photos").join(image),
        )
        .unwrap();
    }
    dir
}

/// `webclip search --json` as (file name, score), best first.
fn search_results(args: &[&str]) -> Vec<(String, f32)> {
    let output = webclip(&[&["search"], args, &["--json"]].concat());
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout_json(&output)["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hit| {
            let path = hit["path"].as_str().unwrap();
            let name = std::path::Path::new(path)
                .file_name()
                .unwrap()
                .to_string_lossy();
            (name.into_owned(), hit["score"].as_f64().unwrap() as f32)
        })
        .collect()
}

/// The cosine of the golden embeddings of `image` and of text number `text`.
fn golden_cosine(image: &str, text: usize) -> f32 {
    let images = golden("tiny-quickgelu", "image_embeds").rows();
    let texts = golden("tiny-quickgelu", "text_embeds").rows();
    let row = &images[golden_index(&format!("images/{image}"))];
    row.iter().zip(&texts[text]).map(|(a, b)| a * b).sum()
}

#[test]
fn an_index_is_searched_by_text_and_image_and_kept_up_to_date() {
    let dir = photo_folder("index", &["chelsea.png", "la.png", "shapes.webp"]);
    let (photos, index) = (dir.join("photos"), dir.join("index"));
    let (photos, index_arg) = (photos.to_str().unwrap(), index.to_str().unwrap());
    let model = model_dir("tiny-quickgelu");
    let model = model.to_str().unwrap();
    let run_index = |model: &str| webclip(&["index", "--model", model, photos, "--out", index_arg]);
    let output = run_index(model);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("3 images (3 encoded, 0 unchanged"),
        "{stderr}"
    );
    // The files other tools read.
    for file in ["index.json", "embeddings.safetensors", "images.jsonl"] {
        assert!(index.join(file).exists(), "{file}");
    }

    let inputs = inputs();
    let hits = search_results(&["--index", index_arg, "--text", &inputs.texts[0]]);
    assert_eq!(hits.len(), 3);
    assert!(
        hits.windows(2).all(|w| w[0].1 >= w[1].1),
        "best first: {hits:?}"
    );
    for (name, score) in &hits {
        let want = golden_cosine(name, 0);
        assert!((score - want).abs() < 1e-4, "{name}: {score} vs {want}");
    }
    let like = dir.join("photos/la.png");
    let hits = search_results(&[
        "--index",
        index_arg,
        "--image",
        like.to_str().unwrap(),
        "--top",
        "1",
    ]);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].0, "la.png");
    assert!((hits[0].1 - 1.0).abs() < 1e-4, "{hits:?}");

    // Add one file, change one, delete one: only the new and changed are encoded.
    std::fs::copy(
        fixtures().join("images/palette.png"),
        dir.join("photos/palette.png"),
    )
    .unwrap();
    std::fs::copy(
        fixtures().join("images/camera.png"),
        dir.join("photos/shapes.webp"),
    )
    .unwrap();
    std::fs::remove_file(dir.join("photos/chelsea.png")).unwrap();
    let output = run_index(model);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("3 images (2 encoded, 1 unchanged, 1 deleted files dropped"),
        "{stderr}"
    );
    let hits = search_results(&["--index", index_arg, "--text", &inputs.texts[5]]);
    let mut names: Vec<&str> = hits.iter().map(|(n, _)| n.as_str()).collect();
    names.sort();
    assert_eq!(names, ["la.png", "palette.png", "shapes.webp"]);
    let (_, changed) = hits.iter().find(|(n, _)| n == "shapes.webp").unwrap();
    let want = golden_cosine("camera.png", 5);
    assert!(
        (changed - want).abs() < 1e-4,
        "the changed file's new embedding"
    );

    // Another model never mixes into the index.
    let other = model_dir("tiny-gelu");
    let output = run_index(other.to_str().unwrap());
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("was made by another model"), "{stderr}");
    let output = webclip(&[
        "search",
        "--index",
        index_arg,
        "--model",
        other.to_str().unwrap(),
        "--text",
        "a cat",
    ]);
    assert!(String::from_utf8_lossy(&output.stderr).contains("made by another model"));
}

#[test]
fn classify_learns_classes_from_example_folders() {
    let dir = photo_folder("examples", &[]);
    let examples = dir.join("examples");
    let classes = [
        ("photos", ["chelsea.png", "camera.png"]),
        ("graphics", ["logo.png", "shapes_wide.png"]),
    ];
    for (class, images) in classes {
        std::fs::create_dir_all(examples.join(class)).unwrap();
        for image in images {
            std::fs::copy(
                fixtures().join("images").join(image),
                examples.join(class).join(image),
            )
            .unwrap();
        }
    }
    let model = model_dir("tiny-quickgelu");
    let output = webclip(&[
        "classify",
        "--model",
        model.to_str().unwrap(),
        examples.to_str().unwrap(),
        "--examples",
        examples.to_str().unwrap(),
        "--json",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("probe taught by 4 examples of 2 classes"),
        "{stderr}"
    );
    let value = stdout_json(&output);
    assert_eq!(value["labels"], serde_json::json!(["graphics", "photos"]));
    for result in value["results"].as_array().unwrap() {
        let image = result["image"].as_str().unwrap();
        let class = if image.contains("/photos/") {
            "photos"
        } else {
            "graphics"
        };
        assert_eq!(result["top"], class, "{image}: {result}");
    }
}

/// `--frame-ink` reads a small drawing in the corner of a large sheet as the
/// library's drawing path does (the page's drawing option), and as the model
/// reads the drawing alone.
#[test]
fn classify_frames_the_ink_of_drawings() {
    let dir = photo_folder("drawings", &[]);
    let model_path = model_dir("sketch");
    let model = ClipPipeline::load_dir(&model_path, &device::cpu()).unwrap();
    let labels: Vec<&str> = CATEGORIES.to_vec();
    let template = "a drawing of a {}";
    for name in ["house", "star"] {
        let category = CATEGORIES.iter().position(|c| *c == name).unwrap();
        let drawing = held_out_drawing(category, Variation::Centred, 5, 128);
        let sheet = on_sheet(&drawing, 384, 256, 0);
        let path = dir.join("photos").join(format!("{name}.png"));
        sheet.save(&path).unwrap();
        let mut args = vec!["classify", "--model", model_path.to_str().unwrap()];
        args.extend(["--template", template, "--json", path.to_str().unwrap()]);
        for label in &labels {
            args.extend(["--label", label]);
        }
        let framed = stdout_json(&webclip(&[&args[..], &["--frame-ink"]].concat()));
        assert_eq!(framed["results"][0]["top"], name, "{framed}");
        let rows = model.embed_drawings(&[sheet]).unwrap();
        let library = model.label_embeddings(&rows, &labels, template).unwrap();
        let printed = json_rows(&serde_json::json!([framed["results"][0]["probs"]]));
        for (a, b) in printed[0].iter().zip(&library[0]) {
            assert!(
                (a - b).abs() < 1e-5,
                "{name}: {a} printed, {b} from the library"
            );
        }
        // The whole sheet is another picture: a drawing a ninth its size.
        let whole = stdout_json(&webclip(&args));
        assert_ne!(whole["results"][0]["probs"], framed["results"][0]["probs"]);
    }
}

/// `webclip bench` makes its own ViT-B/32-shaped model and times it; on the
/// GPU (lavapipe here) the launch counters show our attention kernel running
/// once per layer of each encoder.
#[test]
fn bench_times_a_named_shape_on_every_device() {
    for device in ["cpu", "wgpu"] {
        let output = webclip(&[
            "bench",
            "--shape",
            "vit-b-32",
            "--device",
            device,
            "--repeats",
            "1",
            "--batch",
            "1",
            "--json",
        ]);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let report = stdout_json(&output);
        for key in [
            "build_ms",
            "first_image_ms",
            "image_ms",
            "first_text8_ms",
            "text8_ms",
            "batch_images_per_s",
        ] {
            let value = report[key].as_f64().unwrap_or(f64::NAN);
            assert!(
                value.is_finite() && value > 0.0,
                "{device}: {key} = {}",
                report[key]
            );
        }
        let launches = [
            report["attention_launches_per_image"].as_u64(),
            report["attention_launches_per_text8"].as_u64(),
        ];
        let layers = match device {
            "cpu" => Some(0),
            _ => Some(12),
        };
        assert_eq!(
            launches,
            [layers, layers],
            "{device}: our attention kernel per encode"
        );
    }
    let output = webclip(&["bench", "--shape", "vit-h-14", "--device", "cpu"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown shape \"vit-h-14\""));
}

#[test]
fn a_vit_b_32_encode_takes_at_most_half_the_dispatches_it_once_did() {
    let count = |device: &str| {
        webclip(&[
            "bench",
            "--shape",
            "vit-b-32",
            "--device",
            device,
            "--count-dispatches",
            "--json",
        ])
    };
    let output = count("wgpu");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = stdout_json(&output);
    // Each op its own dispatch, as Burn ran the whole model before our fused
    // LayerNorm and bias kernels: 521 per image, 510 per 8 prompts.
    for (key, before) in [("dispatches_per_image", 521), ("dispatches_per_text8", 510)] {
        let dispatches = report[key].as_u64().unwrap_or(u64::MAX);
        assert!(
            (12..=before / 2).contains(&dispatches),
            "{key}: {dispatches} (once {before})"
        );
    }
    let output = count("cpu");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("use --device wgpu"));
}
