//! The image-text pairs of each step: fresh drawings or a JSONL file, in an
//! order fixed by the seed, and the pixel statistics a new run normalizes by.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{DataSource, TrainOptions};
use crate::error::{Error, Result};
use crate::files::{self, FileKind};
use crate::preprocess::{self, PreprocessConfig};
use crate::rng::Rng;
use crate::sketch;

/// One image-text pair, not yet preprocessed.
pub(super) struct Pair {
    pub(super) image: image::RgbImage,
    pub(super) text: String,
    /// For generated drawings: what the drawing shows and its caption says.
    pub(super) truth: Option<sketch::Truth>,
}

/// The pairs of a JSONL file.
pub(super) struct PairFile {
    pub(super) dir: PathBuf,
    pub(super) entries: Vec<(PathBuf, String)>,
}

#[derive(Deserialize)]
pub(super) struct PairLine {
    pub(super) image: PathBuf,
    pub(super) text: String,
}

impl PairFile {
    fn read(file: &Path) -> Result<Self> {
        let text = files::read_text_of(file, FileKind::PairList)?;
        let mut entries = Vec::new();
        for (number, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let pair: PairLine = serde_json::from_str(line).map_err(|e| {
                Error::Input(format!(
                    "{} line {}: expected {{\"image\": PATH, \"text\": CAPTION}} ({e})",
                    file.display(),
                    number + 1
                ))
            })?;
            entries.push((pair.image, pair.text));
        }
        if entries.is_empty() {
            return Err(Error::Input(format!(
                "{} holds no image-text pairs",
                file.display()
            )));
        }
        let dir = file.parent().unwrap_or(Path::new(".")).to_path_buf();
        Ok(Self { dir, entries })
    }
}

/// The training data: which pair goes at each position of each step depends
/// only on the seed, the step and the position, so a resumed run sees the
/// same data as an uninterrupted one.
pub(super) enum Data {
    Sketches {
        size: u32,
        spread: sketch::Spread,
        seed: u64,
    },
    Pairs {
        file: PairFile,
        seed: u64,
    },
}

/// Training drawings use seeds below this; evaluation draws above it, so
/// the two never share a drawing.
pub const EVAL_SEED_BASE: u64 = 1 << 63;

impl Data {
    pub(super) fn open(source: &DataSource, seed: u64) -> Result<Self> {
        Ok(match source {
            DataSource::Sketches { size, spread } => Self::Sketches {
                size: *size,
                spread: *spread,
                seed,
            },
            DataSource::Pairs { file } => Self::Pairs {
                file: PairFile::read(file)?,
                seed,
            },
        })
    }

    /// Texts that hold every word any caption of the run can use.
    pub(super) fn caption_words(&self) -> Vec<String> {
        match self {
            // Phrase by phrase: each well under the tokenizer's length.
            Self::Sketches { .. } => sketch::caption_vocabulary()
                .into_iter()
                .map(str::to_string)
                .collect(),
            Self::Pairs { file, .. } => file.entries.iter().map(|e| e.1.clone()).collect(),
        }
    }

    pub(super) fn batch(&self, step: usize, batch_size: usize) -> Result<Vec<Pair>> {
        // Each epoch's order of the pairs, shuffled once per batch (a batch
        // spans one epoch, or two at a boundary).
        let mut epoch_order: Option<(u64, Vec<usize>)> = None;
        (0..batch_size)
            .map(|i| {
                let index = (step * batch_size + i) as u64;
                match self {
                    Self::Sketches { size, spread, seed } => {
                        let drawing_seed = Rng::new(seed ^ index.wrapping_mul(0x9E37_79B9))
                            .next_u64()
                            % EVAL_SEED_BASE;
                        let sketch = sketch::draw(drawing_seed, *size, spread.of_drawing(index));
                        Ok(Pair {
                            image: sketch.image,
                            text: sketch.caption,
                            truth: Some(sketch.truth),
                        })
                    }
                    Self::Pairs { file, seed } => {
                        let count = file.entries.len() as u64;
                        let (epoch, position) = (index / count, index % count);
                        if epoch_order.as_ref().is_none_or(|(e, _)| *e != epoch) {
                            let mut order: Vec<usize> = (0..file.entries.len()).collect();
                            Rng::new(seed ^ epoch).shuffle(&mut order);
                            epoch_order = Some((epoch, order));
                        }
                        let order = &epoch_order.as_ref().expect("set above").1;
                        let (path, text) = &file.entries[order[position as usize]];
                        let path = file.dir.join(path);
                        let bytes = files::read(&path, FileKind::Image)?;
                        let image = preprocess::decode_image(&bytes, &path.display().to_string())?;
                        Ok(Pair {
                            image,
                            text: text.clone(),
                            truth: None,
                        })
                    }
                }
            })
            .collect()
    }
}

/// How many training images the pixel statistics are taken over, at most.
pub(super) const STATISTICS_IMAGES: usize = 512;

/// CLIP's preprocessing, normalized by the mean and standard deviation of
/// each colour channel over the first training images rather than by
/// CLIP's photo statistics. Drawings are mostly white paper: under CLIP's
/// values every blank patch is one large constant vector and ink only a
/// small change to it, while here paper sits near zero and ink stands out.
pub(super) fn normalized_for(data: &Data, options: &TrainOptions) -> Result<PreprocessConfig> {
    let size = options.model.vision_config.image_size as u32;
    let mut config = PreprocessConfig::clip_default(size);
    let mut unnormalized = config.clone();
    unnormalized.do_normalize = false;
    // A file of pairs counts each image once, however small the file.
    let images = match data {
        Data::Sketches { .. } => STATISTICS_IMAGES,
        Data::Pairs { file, .. } => file.entries.len().min(STATISTICS_IMAGES),
    };
    let (mut sum, mut square_sum, mut count) = ([0f64; 3], [0f64; 3], 0usize);
    let mut seen = 0;
    for step in 0.. {
        for pair in data.batch(step, options.batch_size)? {
            if seen == images {
                break;
            }
            seen += 1;
            // Channel-major: each channel's plane in turn.
            let pixels = preprocess::preprocess(&pair.image, &unnormalized);
            let plane = pixels.len() / 3;
            for (channel, values) in pixels.chunks(plane).enumerate() {
                for &v in values {
                    sum[channel] += v as f64;
                    square_sum[channel] += (v as f64) * (v as f64);
                }
            }
            count += plane;
        }
        if seen == images {
            break;
        }
    }
    for channel in 0..3 {
        let mean = sum[channel] / count as f64;
        let variance = (square_sum[channel] / count as f64 - mean * mean).max(0.0);
        config.image_mean[channel] = mean as f32;
        // One grey level at least: a blank channel must not divide by zero.
        config.image_std[channel] = variance.sqrt().max(1.0 / 255.0) as f32;
    }
    Ok(config)
}
