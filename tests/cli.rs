//! The `webclip` command line, as scripts call it.

mod common;

use std::process::{Command, Output};

use common::*;

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
