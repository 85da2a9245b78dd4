//! Encoder speed on the CPU: one image and a batch of 8 prompts, the work of
//! one zero-shot classification. Prints one JSON object; `cargo xtask bench`
//! runs it beside PyTorch and onnxruntime on the same model and prints ratios.
//!
//! `cargo bench --profile dev --bench encode -- MODEL_DIR IMAGE [REPEATS]`

use std::time::{Duration, Instant};

use webclip::device;
use webclip::pipeline::{ClipPipeline, read_rows};

/// The same 8 prompts `tests/fixtures/bench_peers.py` gives PyTorch and onnxruntime.
const PROMPTS: [&str; 8] = [
    "a photo of a cat",
    "a photo of a dog",
    "a photo of a rocket",
    "a photo of a person",
    "a photo of a coffee",
    "a photo of a circle",
    "a photo of a car",
    "a photo of a tree",
];

fn median_ms(mut samples: Vec<Duration>) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1e3
}

fn time<T>(repeats: usize, mut work: impl FnMut() -> T) -> f64 {
    work(); // warm-up
    median_ms(
        (0..repeats)
            .map(|_| {
                let start = Instant::now();
                std::hint::black_box(work());
                start.elapsed()
            })
            .collect(),
    )
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let [model_dir, image, rest @ ..] = args.as_slice() else {
        eprintln!("usage: encode MODEL_DIR IMAGE [REPEATS]");
        std::process::exit(2);
    };
    let repeats = rest
        .first()
        .map_or(10, |r| r.parse().expect("REPEATS is a number"));
    let device = device::cpu();
    let load_start = Instant::now();
    let model = ClipPipeline::load_dir(model_dir.as_ref(), &device).expect("model loads");
    let load_ms = load_start.elapsed().as_secs_f64() * 1e3;
    let bytes = std::fs::read(image).expect("image readable");
    let preprocess_ms = time(repeats, || model.pixel_values(&bytes, image).unwrap());
    let pixels = model.pixel_values(&bytes, image).unwrap();
    let image_ms = time(repeats, || {
        read_rows(model.image_embeds_tensor(&[&pixels]).unwrap()).unwrap()
    });
    let text8_ms = time(repeats, || {
        read_rows(model.text_embeds_tensor(&PROMPTS).unwrap()).unwrap()
    });
    println!(
        "{}",
        serde_json::json!({
            "webclip": {"image_ms": image_ms, "text8_ms": text8_ms, "preprocess_ms": preprocess_ms, "load_ms": load_ms},
            "device": "cpu (flex)",
            "repeats": repeats,
        })
    );
}
