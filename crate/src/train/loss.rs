//! The contrastive loss: which captions match which images, the targets of
//! both directions, and the batch accuracy shown while training.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor, TensorData};

use super::data::Pair;
use crate::error::Result;
use crate::model::Clip;
use crate::zeroshot::argmax;

/// Which captions of a batch are true of which images: entry `i * n + j`
/// says whether caption `j` describes image `i` (always so for `j == i`).
///
/// CLIP's target is the diagonal alone, which pushes an image away from
/// every other caption, even one that describes it just as well: short
/// templated captions repeat, and "a drawing of a star" is true of every
/// star in the batch. Generated drawings know what they show, so a caption
/// matches every drawing it is true of; for a user's pairs, a caption
/// matches the images whose caption is the same text.
pub(super) fn caption_matches(pairs: &[Pair], ids: &[Vec<i64>]) -> Vec<bool> {
    let n = pairs.len();
    let mut matches = vec![false; n * n];
    for i in 0..n {
        for j in 0..n {
            matches[i * n + j] = match (&pairs[i].truth, &pairs[j].truth) {
                (Some(image), Some(caption)) => caption.caption_fits(image),
                _ => ids[i] == ids[j],
            };
        }
    }
    matches
}

/// The two directions of the loss over the row-major `n` x `n` similarity
/// matrix, whose rows are images and columns captions.
#[derive(Clone, Copy)]
enum Direction {
    ImageToText,
    TextToImage,
}

impl Direction {
    /// Where the score of item `a` against candidate `b` lies: an image's
    /// captions along its row, a caption's images down its column.
    fn index(self, a: usize, b: usize, n: usize) -> usize {
        match self {
            Direction::ImageToText => a * n + b,
            Direction::TextToImage => b * n + a,
        }
    }
}

/// The loss's targets for both directions: image to text (each row spread
/// over the captions true of that image) and text to image (each column
/// spread over the images that caption describes).
fn matching_targets(matches: &[bool], n: usize) -> (Vec<f32>, Vec<f32>) {
    let spread = |direction: Direction| {
        let mut targets = vec![0.0f32; n * n];
        for a in 0..n {
            let hits: Vec<usize> = (0..n)
                .map(|b| direction.index(a, b, n))
                .filter(|&k| matches[k])
                .collect();
            for &k in &hits {
                targets[k] = 1.0 / hits.len() as f32;
            }
        }
        targets
    };
    (
        spread(Direction::ImageToText),
        spread(Direction::TextToImage),
    )
}

/// The symmetric contrastive loss of a batch (image-to-text and
/// text-to-image cross-entropy, averaged) and the scaled similarities.
/// `matches` as [`caption_matches`] gives it.
pub(super) fn contrastive_loss(
    clip: &Clip,
    pixels: Tensor<4>,
    ids: &[Vec<i64>],
    matches: &[bool],
) -> Result<(Tensor<1>, Tensor<2>)> {
    let images = clip.image_embeds(pixels);
    let texts = distinct_text_embeds(clip, ids)?;
    let n = ids.len();
    let scale = clip.logit_scale_exp().unsqueeze::<2>();
    let logits = images.matmul(texts.transpose()) * scale;
    let (rows, columns) = matching_targets(matches, n);
    let device = logits.device();
    let target = |values| Tensor::<2>::from_data(TensorData::new(values, [n, n]), &device);
    let image_to_text = -(log_softmax(logits.clone(), 1) * target(rows)).sum() / n as f32;
    let text_to_image = -(log_softmax(logits.clone(), 0) * target(columns)).sum() / n as f32;
    Ok(((image_to_text + text_to_image) / 2.0, logits))
}

/// One embedding row per caption, encoding each distinct caption once:
/// templated captions repeat (half of the generated ones are one of 20
/// sentences), and the copies' rows are the same values anyway.
fn distinct_text_embeds(clip: &Clip, ids: &[Vec<i64>]) -> Result<Tensor<2>> {
    let mut distinct: Vec<Vec<i64>> = Vec::new();
    let rows: Vec<i64> = ids
        .iter()
        .map(|row| {
            let index = distinct.iter().position(|d| d == row).unwrap_or_else(|| {
                distinct.push(row.clone());
                distinct.len() - 1
            });
            index as i64
        })
        .collect();
    let embeds = clip.text_embeds(&distinct)?;
    if distinct.len() == ids.len() {
        return Ok(embeds);
    }
    let device = embeds.device();
    let rows = Tensor::<1, Int>::from_data(TensorData::new(rows, [ids.len()]), &device);
    Ok(embeds.select(0, rows))
}

/// Share of images whose best caption is true of them, and of captions
/// whose best image they describe, averaged.
pub(super) fn matching_accuracy(logits: &[f32], matches: &[bool], n: usize) -> f32 {
    let hits = |direction: Direction| {
        (0..n)
            .filter(|&a| {
                let scores: Vec<f32> = (0..n).map(|b| logits[direction.index(a, b, n)]).collect();
                matches[direction.index(a, argmax(&scores), n)]
            })
            .count()
    };
    let hits = hits(Direction::ImageToText) + hits(Direction::TextToImage);
    hits as f32 / (2 * n) as f32
}
