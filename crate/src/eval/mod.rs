//! How well a model knows the sketch categories, on drawings it never saw:
//! zero-shot accuracy from the category names alone, linear probes trained
//! on a few labelled drawings per category (the usual baseline for frozen
//! features), and the zero-shot confusion matrix; on the generator's own
//! held-out seeds and on a drawing style training never sees
//! ([`drawings`]).

pub mod drawings;

use crate::error::{Error, Result};
use crate::pipeline::ClipPipeline;
use crate::probe::LinearProbe;
use crate::sketch::{self, CATEGORIES};
use crate::train::EVAL_SEED_BASE;
use crate::zeroshot::argmax;

pub const EVAL_TEMPLATE: &str = "a drawing of a {}";

/// Probe training drawings start here, far from the test drawings' seeds
/// (both above every training seed).
const PROBE_SEED_OFFSET: u64 = 1 << 40;

/// What the model is shown of each drawing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// The whole sheet, as drawn.
    Sheet,
    /// Views framing the ink ([`ClipPipeline::embed_drawings`]), as the
    /// Draw screen judges its drawings.
    Ink,
}

/// Image embeddings of drawings, with their categories.
pub struct Features {
    pub rows: Vec<Vec<f32>>,
    pub labels: Vec<usize>,
}

/// `per_category` fresh drawings of every category, drawn at `size` pixels
/// from seeds `EVAL_SEED_BASE + offset + i`, embedded by `model`.
pub fn sketch_features(
    model: &ClipPipeline,
    per_category: usize,
    offset: u64,
    size: u32,
    framing: Framing,
) -> Result<Features> {
    features(model, per_category, framing, |category, i| {
        generator_drawing(category, offset + i, size)
    })
}

/// Drawing number `i` of `category` from the training generator, at a seed
/// that training never uses.
pub fn generator_drawing(category: usize, i: u64, size: u32) -> image::RgbImage {
    sketch::draw_category(category, EVAL_SEED_BASE + i, size, sketch::Spread::Standard).image
}

/// `per_category` drawings of every category in the held-out style
/// ([`drawings`]) with `variation`, drawn at `size` pixels, embedded.
pub fn held_out_features(
    model: &ClipPipeline,
    per_category: usize,
    variation: drawings::Variation,
    size: u32,
    framing: Framing,
) -> Result<Features> {
    features(model, per_category, framing, |category, i| {
        drawings::held_out_drawing(category, variation, i, size)
    })
}

/// `draw(category, i)` for the categories in turn, `per_category` rounds,
/// framed and embedded by `model`.
fn features(
    model: &ClipPipeline,
    per_category: usize,
    framing: Framing,
    draw: impl Fn(usize, u64) -> image::RgbImage,
) -> Result<Features> {
    let labels: Vec<usize> = (0..per_category * CATEGORIES.len())
        .map(|i| i % CATEGORIES.len())
        .collect();
    let drawings: Vec<_> = (labels.iter().enumerate())
        .map(|(i, &category)| draw(category, i as u64))
        .collect();
    let rows = match framing {
        Framing::Sheet => {
            let pixels: Vec<_> = (drawings.iter())
                .map(|d| crate::preprocess::preprocess(d, &model.preprocess))
                .collect();
            model.embed_images(&pixels)?
        }
        Framing::Ink => model.embed_drawings(&drawings)?,
    };
    Ok(Features { rows, labels })
}

#[derive(Clone, Debug)]
pub struct ZeroShot {
    pub accuracy: f32,
    /// `confusion[truth][predicted]`, counts.
    pub confusion: Vec<Vec<u32>>,
}

impl ZeroShot {
    /// Each category's share of its drawings classified right.
    pub fn per_category(&self) -> Vec<f32> {
        (0..self.confusion.len())
            .map(|i| {
                let row: u32 = self.confusion[i].iter().sum();
                self.confusion[i][i] as f32 / row.max(1) as f32
            })
            .collect()
    }
}

/// Zero-shot top-1 accuracy: each drawing goes to the category whose
/// prompt (`template` around its name) is most similar.
pub fn zero_shot(model: &ClipPipeline, features: &Features, template: &str) -> Result<ZeroShot> {
    let prompts = crate::zeroshot::prompts(&CATEGORIES, template)?;
    let prompt_refs: Vec<&str> = prompts.iter().map(String::as_str).collect();
    let texts = model.embed_texts(&prompt_refs)?;
    let n = CATEGORIES.len();
    let mut confusion = vec![vec![0u32; n]; n];
    for (row, &truth) in features.rows.iter().zip(&features.labels) {
        let scores: Vec<f32> = texts.iter().map(|t| dot(row, t)).collect();
        confusion[truth][argmax(&scores)] += 1;
    }
    Ok(ZeroShot {
        accuracy: diagonal_share(&confusion),
        confusion,
    })
}

/// Accuracy on `test` of a linear probe trained on `shots` drawings per
/// category (fresh ones, not in `test`, framed alike).
pub fn linear_probe(
    model: &ClipPipeline,
    test: &Features,
    shots: usize,
    size: u32,
    framing: Framing,
) -> Result<f32> {
    let train = sketch_features(model, shots, PROBE_SEED_OFFSET, size, framing)?;
    let probe = LinearProbe::fit(&train.rows, &train.labels, CATEGORIES.len())?;
    let n = CATEGORIES.len();
    let mut confusion = vec![vec![0u32; n]; n];
    for (row, &truth) in test.rows.iter().zip(&test.labels) {
        confusion[truth][probe.predict(row)] += 1;
    }
    Ok(diagonal_share(&confusion))
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn diagonal_share(confusion: &[Vec<u32>]) -> f32 {
    let total: u32 = confusion.iter().flatten().sum();
    let right: u32 = (0..confusion.len()).map(|i| confusion[i][i]).sum();
    right as f32 / total.max(1) as f32
}

/// The confusion matrix as an SVG image: rows are the true categories,
/// columns the predicted ones, cells shaded by the share of the row.
pub fn confusion_svg(confusion: &[Vec<u32>], labels: &[&str], title: &str) -> Result<String> {
    let n = labels.len();
    if confusion.len() != n || confusion.iter().any(|row| row.len() != n) {
        return Err(Error::Input(format!(
            "the confusion matrix must be {n}x{n}, one row and column per label"
        )));
    }
    let (cell, left, top) = (28, 130, 140);
    let (width, height) = (left + cell * n + 20, top + cell * n + 50);
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         font-family=\"sans-serif\" font-size=\"11\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{left}\" y=\"18\" font-size=\"14\">{}</text>\n\
         <text x=\"{}\" y=\"{}\" text-anchor=\"middle\">predicted</text>\n\
         <text x=\"14\" y=\"{}\" transform=\"rotate(-90 14 {})\" text-anchor=\"middle\">true</text>\n",
        escape(title),
        left + cell * n / 2,
        height - 12,
        top + cell * n / 2,
        top + cell * n / 2,
    );
    for (i, label) in labels.iter().enumerate() {
        let label = escape(label);
        let y = top + i * cell + cell / 2 + 4;
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{y}\" text-anchor=\"end\">{label}</text>\n",
            left - 6
        ));
        let x = left + i * cell + cell / 2 + 4;
        svg.push_str(&format!(
            "<text x=\"{x}\" y=\"{}\" transform=\"rotate(-60 {x} {})\">{label}</text>\n",
            top - 6,
            top - 6
        ));
    }
    for (i, row) in confusion.iter().enumerate() {
        let total = row.iter().sum::<u32>().max(1) as f32;
        for (j, &count) in row.iter().enumerate() {
            let share = count as f32 / total;
            let shade = (255.0 * (1.0 - share)).round() as u8;
            let (x, y) = (left + j * cell, top + i * cell);
            svg.push_str(&format!(
                "<rect x=\"{x}\" y=\"{y}\" width=\"{cell}\" height=\"{cell}\" \
                 fill=\"rgb({shade},{shade},255)\" stroke=\"#ddd\"/>\n"
            ));
            if count > 0 {
                let color = if share > 0.5 { "white" } else { "black" };
                svg.push_str(&format!(
                    "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"{color}\" \
                     font-size=\"10\">{count}</text>\n",
                    x + cell / 2,
                    y + cell / 2 + 4
                ));
            }
        }
    }
    svg.push_str("</svg>\n");
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confusion_svg_escapes_labels_and_checks_shape() {
        let svg = confusion_svg(&[vec![3, 1], vec![0, 4]], &["a<b", "c"], "t").unwrap();
        assert!(svg.contains("a&lt;b") && svg.contains(">3<") && svg.starts_with("<svg"));
        assert!(confusion_svg(&[vec![1]], &["a", "b"], "t").is_err());
    }
}
