//! Shared by the integration tests: the fixture folders and the golden
//! outputs that `tests/fixtures/make_fixtures.py` wrote from transformers.
#![allow(dead_code)]

use std::path::PathBuf;

use safetensors::{Dtype, SafeTensors};
use serde::Deserialize;

/// The fixture models, and the page's bundled sketch model (trained by
/// `webclip train`; its golden outputs come from transformers all the same).
pub const MODELS: &[&str] = &["tiny-quickgelu", "tiny-gelu", "sketch"];

/// `drawing` pasted with its top left corner at (`x`, `y`) on a square
/// sheet `side` pixels wide of its own paper (the colour of its top left
/// pixel): a small drawing somewhere on a large sheet.
pub fn on_sheet(drawing: &image::RgbImage, side: u32, x: i64, y: i64) -> image::RgbImage {
    let mut sheet = image::RgbImage::from_pixel(side, side, *drawing.get_pixel(0, 0));
    image::imageops::replace(&mut sheet, drawing, x, y);
    sheet
}

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

pub fn model_dir(model: &str) -> PathBuf {
    match model {
        "sketch" => fixtures().join("../../www/models/sketch"),
        _ => fixtures().join("models").join(model),
    }
}

#[derive(Deserialize)]
pub struct Inputs {
    pub images: Vec<String>,
    pub texts: Vec<String>,
    pub labels: Vec<String>,
    pub template: String,
}

pub fn inputs() -> Inputs {
    let text = std::fs::read_to_string(fixtures().join("golden/inputs.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// One golden tensor: its shape and values.
pub struct Golden {
    pub shape: Vec<usize>,
    pub f32: Vec<f32>,
    pub i64: Vec<i64>,
}

impl Golden {
    pub fn rows(&self) -> Vec<Vec<f32>> {
        let width: usize = self.shape[1..].iter().product();
        self.f32.chunks(width).map(<[f32]>::to_vec).collect()
    }

    pub fn int_rows(&self) -> Vec<Vec<i64>> {
        self.i64
            .chunks(self.shape[1])
            .map(<[i64]>::to_vec)
            .collect()
    }
}

pub fn golden(model: &str, tensor: &str) -> Golden {
    let bytes = std::fs::read(fixtures().join(format!("golden/{model}.safetensors"))).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let view = file.tensor(tensor).unwrap();
    let data = view.data();
    let (f32, i64) = match view.dtype() {
        Dtype::F32 => (
            data.chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                .collect(),
            vec![],
        ),
        Dtype::I64 => (
            vec![],
            data.chunks_exact(8)
                .map(|b| i64::from_le_bytes(b.try_into().unwrap()))
                .collect(),
        ),
        other => panic!("golden {tensor} has dtype {other:?}"),
    };
    Golden {
        shape: view.shape().to_vec(),
        f32,
        i64,
    }
}

/// The largest absolute difference between two equally long sequences.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

pub fn assert_rows_close(what: &str, got: &[Vec<f32>], want: &[Vec<f32>], tolerance: f32) {
    assert_eq!(got.len(), want.len(), "{what}: row count");
    let mut worst = 0.0f32;
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let diff = max_abs_diff(g, w);
        assert!(
            diff <= tolerance,
            "{what}: row {i} differs by {diff:e} (tolerance {tolerance:e})"
        );
        worst = worst.max(diff);
    }
    // Shown with --nocapture: the margin each comparison has.
    eprintln!("{what}: max abs diff {worst:e} (tolerance {tolerance:e})");
}
