//! Contrastive pretraining as CLIP does it: a batch of N image-text pairs
//! through both encoders, the N×N cosine similarities scaled by the learned
//! temperature, and a symmetric cross-entropy that pulls each image toward
//! its own caption and away from the other N-1 (and each caption likewise).
//! The model is the inference model itself on an autodiff device.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::{Module, ParamGroup, ParamId};
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::clip::Clip;
use crate::config::{Activation, ClipConfig, TextConfig, VisionConfig};
use crate::error::{Error, Result};
use crate::loader::{self, Layout, SaveDtype};
use crate::model;
use crate::preprocess::{self, PreprocessConfig};
use crate::rng::Rng;
use crate::sketch;
use crate::tokenizer::ClipTokenizer;
use crate::zeroshot::argmax;

/// `ln(100)`: CLIP keeps the temperature's inverse at or below 100.
pub const MAX_LOGIT_SCALE: f32 = 4.605_170_2;

/// The folder inside a training output that holds what resuming needs.
pub const CHECKPOINT_DIR: &str = "checkpoint";
const OPTIMIZER_FILE: &str = "optimizer.bpk";
const STATE_FILE: &str = "trainer.json";

/// Everything that defines a run; saved with each checkpoint so a resumed
/// run continues exactly where it stopped.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainOptions {
    pub model: ClipConfig,
    pub data: DataSource,
    pub steps: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    pub warmup_steps: usize,
    pub weight_decay: f32,
    /// Gradients are scaled down when their global L2 norm exceeds this.
    pub max_grad_norm: f32,
    pub seed: u64,
    pub checkpoint_every: usize,
    /// Precision of the exported `model.safetensors`.
    pub export_f16: bool,
}

/// Where image-text pairs come from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum DataSource {
    /// Fresh synthetic drawings for every step, drawn at `size` pixels.
    Sketches { size: u32 },
    /// A JSONL file of `{"image": PATH, "text": CAPTION}` lines; relative
    /// image paths are relative to the file.
    Pairs { file: PathBuf },
}

/// The architecture of the bundled sketch model: 64-pixel images in 16-pixel
/// patches (17 tokens) and narrow, shallow towers, so a full run fits in
/// 45 minutes on two CPU cores.
pub fn sketch_model_config() -> ClipConfig {
    let mut config = ClipConfig::from_json("{}", "config.json").expect("defaults parse");
    config.projection_dim = 128;
    config.text_config = TextConfig {
        hidden_size: 128,
        intermediate_size: 512,
        num_hidden_layers: 4,
        num_attention_heads: 4,
        hidden_act: Activation::QuickGelu,
        ..TextConfig::default()
    };
    config.vision_config = VisionConfig {
        hidden_size: 128,
        intermediate_size: 512,
        num_hidden_layers: 4,
        num_attention_heads: 4,
        image_size: 64,
        patch_size: 16,
        hidden_act: Activation::QuickGelu,
        ..VisionConfig::default()
    };
    config
}

impl TrainOptions {
    pub fn sketches() -> Self {
        Self {
            model: sketch_model_config(),
            data: DataSource::Sketches { size: 128 },
            steps: 2500,
            batch_size: 64,
            learning_rate: 1e-3,
            warmup_steps: 200,
            weight_decay: 0.05,
            max_grad_norm: 1.0,
            seed: 0,
            checkpoint_every: 100,
            export_f16: true,
        }
    }

    /// Warm-up from zero, then cosine decay to zero at the last step.
    pub fn learning_rate_at(&self, step: usize) -> f64 {
        if step < self.warmup_steps {
            return self.learning_rate * (step + 1) as f64 / self.warmup_steps as f64;
        }
        let decay_steps = self.steps.saturating_sub(self.warmup_steps).max(1);
        let progress = (step - self.warmup_steps) as f64 / decay_steps as f64;
        self.learning_rate * 0.5 * (1.0 + (std::f64::consts::PI * progress.min(1.0)).cos())
    }
}

/// What one step did, for progress display.
#[derive(Clone, Debug)]
pub struct StepReport {
    pub step: usize,
    pub steps: usize,
    pub loss: f32,
    /// Share of images whose highest-scoring caption in the batch is true
    /// of them (and of captions whose highest-scoring image they describe),
    /// averaged.
    pub batch_accuracy: f32,
    pub logit_scale: f32,
    pub learning_rate: f64,
    pub pairs_per_second: f32,
}

/// One image-text pair, not yet preprocessed.
struct Pair {
    image: image::RgbImage,
    text: String,
    /// For generated drawings: what the drawing shows and its caption says.
    truth: Option<sketch::Truth>,
}

/// The pairs of a JSONL file.
struct PairFile {
    dir: PathBuf,
    entries: Vec<(PathBuf, String)>,
}

#[derive(Deserialize)]
struct PairLine {
    image: PathBuf,
    text: String,
}

impl PairFile {
    fn read(file: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(file).map_err(|e| Error::io(file, e))?;
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
enum Data {
    Sketches { size: u32, seed: u64 },
    Pairs { file: PairFile, seed: u64 },
}

/// Training drawings use seeds below this; evaluation draws above it, so
/// the two never share a drawing.
pub const EVAL_SEED_BASE: u64 = 1 << 63;

impl Data {
    fn open(source: &DataSource, seed: u64) -> Result<Self> {
        Ok(match source {
            DataSource::Sketches { size } => Self::Sketches { size: *size, seed },
            DataSource::Pairs { file } => Self::Pairs {
                file: PairFile::read(file)?,
                seed,
            },
        })
    }

    fn batch(&self, step: usize, batch_size: usize) -> Result<Vec<Pair>> {
        // Each epoch's order of the pairs, shuffled once per batch (a batch
        // spans one epoch, or two at a boundary).
        let mut epoch_order: Option<(u64, Vec<usize>)> = None;
        (0..batch_size)
            .map(|i| {
                let index = (step * batch_size + i) as u64;
                match self {
                    Self::Sketches { size, seed } => {
                        let drawing_seed = Rng::new(seed ^ index.wrapping_mul(0x9E37_79B9))
                            .next_u64()
                            % EVAL_SEED_BASE;
                        let sketch = sketch::draw(drawing_seed, *size);
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
                        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
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

/// Which captions of a batch are true of which images: entry `i * n + j`
/// says whether caption `j` describes image `i` (always so for `j == i`).
///
/// CLIP's target is the diagonal alone, which pushes an image away from
/// every other caption, even one that describes it just as well: short
/// templated captions repeat, and "a drawing of a star" is true of every
/// star in the batch. Generated drawings know what they show, so a caption
/// matches every drawing it is true of; for a user's pairs, a caption
/// matches the images whose caption is the same text.
fn caption_matches(pairs: &[Pair], ids: &[Vec<i64>]) -> Vec<bool> {
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

/// Where entry `(a, b)` of a row-major `n` x `n` matrix lies when `a` walks
/// its rows (images) and `b` its columns (captions), and the other way round.
type Walk = fn(usize, usize, usize) -> usize;
const BY_ROWS: Walk = |a, b, n| a * n + b;
const BY_COLUMNS: Walk = |a, b, n| b * n + a;

/// The loss's targets for both directions: image to text (each row spread
/// over the captions true of that image) and text to image (each column
/// spread over the images that caption describes).
fn matching_targets(matches: &[bool], n: usize) -> (Vec<f32>, Vec<f32>) {
    let spread = |walk: Walk| {
        let mut targets = vec![0.0f32; n * n];
        for a in 0..n {
            let hits: Vec<usize> = (0..n)
                .map(|b| walk(a, b, n))
                .filter(|&k| matches[k])
                .collect();
            for &k in &hits {
                targets[k] = 1.0 / hits.len() as f32;
            }
        }
        targets
    };
    (spread(BY_ROWS), spread(BY_COLUMNS))
}

/// The symmetric contrastive loss of a batch (image-to-text and
/// text-to-image cross-entropy, averaged) and the scaled similarities.
/// `matches` as [`caption_matches`] gives it.
pub fn contrastive_loss(
    clip: &Clip,
    config: &ClipConfig,
    pixels: Tensor<4>,
    ids: &[Vec<i64>],
    matches: &[bool],
) -> Result<(Tensor<1>, Tensor<2>)> {
    let images = clip.image_embeds(pixels);
    let texts = distinct_text_embeds(clip, config, ids)?;
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
fn distinct_text_embeds(clip: &Clip, config: &ClipConfig, ids: &[Vec<i64>]) -> Result<Tensor<2>> {
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
    let embeds = clip.text_embeds(&distinct, config)?;
    if distinct.len() == ids.len() {
        return Ok(embeds);
    }
    let device = embeds.device();
    let rows = Tensor::<1, Int>::from_data(TensorData::new(rows, [ids.len()]), &device);
    Ok(embeds.select(0, rows))
}

/// Share of images whose best caption is true of them, and of captions
/// whose best image they describe, averaged.
fn matching_accuracy(logits: &[f32], matches: &[bool], n: usize) -> f32 {
    let hits = |walk: Walk| {
        (0..n)
            .filter(|&a| {
                let scores: Vec<f32> = (0..n).map(|b| logits[walk(a, b, n)]).collect();
                matches[walk(a, argmax(&scores), n)]
            })
            .count()
    };
    (hits(BY_ROWS) + hits(BY_COLUMNS)) as f32 / (2 * n) as f32
}

pub struct Trainer {
    options: TrainOptions,
    clip: Clip,
    layout: Layout,
    optimizer: ModuleOptimizer,
    tokenizer: ClipTokenizer,
    tokenizer_files: TokenizerFiles,
    preprocess: PreprocessConfig,
    data: Data,
    device: Device,
    /// The next step to run.
    step: usize,
}

/// The tokenizer files copied into every exported model folder.
#[derive(Clone)]
pub struct TokenizerFiles {
    pub tokenizer: Vec<u8>,
    pub tokenizer_config: Option<String>,
    pub special_tokens_map: Option<String>,
}

impl TokenizerFiles {
    /// `tokenizer.json` and, when present, `tokenizer_config.json` and
    /// `special_tokens_map.json` from `dir`.
    pub fn read_dir(dir: &Path) -> Result<Self> {
        let path = dir.join(model::TOKENIZER_FILE);
        let tokenizer = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let optional = |name: &str| std::fs::read_to_string(dir.join(name)).ok();
        Ok(Self {
            tokenizer,
            tokenizer_config: optional(model::TOKENIZER_CONFIG_FILE),
            special_tokens_map: optional(SPECIAL_TOKENS_FILE),
        })
    }
}

const SPECIAL_TOKENS_FILE: &str = "special_tokens_map.json";

/// What a checkpoint holds besides the weights and the options.
struct Saved {
    optimizer_state: PathBuf,
    /// The pixel normalization the run started with.
    preprocess: PreprocessConfig,
    /// The next step to run.
    step: usize,
}

#[derive(Serialize, Deserialize)]
struct TrainerState {
    options: TrainOptions,
    /// The next step to run.
    step: usize,
}

impl Trainer {
    /// A new run from freshly initialised weights.
    pub fn new(options: TrainOptions, tokenizer: TokenizerFiles, device: &Device) -> Result<Self> {
        let device = device.clone().autodiff();
        let (clip, layout) = loader::init_clip(&options.model, options.seed, &device)?;
        Self::assemble(options, clip, layout, tokenizer, None, &device)
    }

    /// Continues the run saved in `out` (a folder [`Trainer::save`] wrote).
    pub fn resume(out: &Path, device: &Device) -> Result<Self> {
        let dir = out.join(CHECKPOINT_DIR);
        let state_path = dir.join(STATE_FILE);
        let state_text =
            std::fs::read_to_string(&state_path).map_err(|e| Error::io(&state_path, e))?;
        let state: TrainerState = serde_json::from_str(&state_text).map_err(|e| Error::Config {
            file: state_path.display().to_string(),
            message: e.to_string(),
        })?;
        let device = device.clone().autodiff();
        let weights_path = dir.join(model::WEIGHTS_FILE);
        let weights = std::fs::read(&weights_path).map_err(|e| Error::io(&weights_path, e))?;
        let (clip, layout) = loader::load_clip_with_layout(
            &weights,
            &weights_path.display().to_string(),
            &state.options.model,
            &device,
        )?;
        let tokenizer = TokenizerFiles::read_dir(&dir)?;
        let preprocess_path = dir.join(model::PREPROCESSOR_FILE);
        let preprocess_text = std::fs::read_to_string(&preprocess_path)
            .map_err(|e| Error::io(&preprocess_path, e))?;
        let preprocess =
            PreprocessConfig::from_json(&preprocess_text, &preprocess_path.display().to_string())?;
        let saved = Saved {
            optimizer_state: dir.join(OPTIMIZER_FILE),
            preprocess,
            step: state.step,
        };
        Self::assemble(state.options, clip, layout, tokenizer, Some(saved), &device)
    }

    /// A trainer at step 0, or where `saved` says a run stopped.
    fn assemble(
        options: TrainOptions,
        clip: Clip,
        layout: Layout,
        tokenizer_files: TokenizerFiles,
        saved: Option<Saved>,
        device: &Device,
    ) -> Result<Self> {
        if options.batch_size < 2 {
            return Err(Error::Input(
                "a contrastive batch needs at least 2 pairs".into(),
            ));
        }
        let tokenizer = ClipTokenizer::from_json(
            &tokenizer_files.tokenizer,
            tokenizer_files.tokenizer_config.as_deref(),
            options.model.text_config.max_position_embeddings,
        )?;
        let data = Data::open(&options.data, options.seed)?;
        let mut optimizer = optimizer(&options, &layout);
        let (preprocess, step) = match saved {
            Some(saved) => {
                let path = saved.optimizer_state;
                optimizer = optimizer.load(&path).map_err(|e| Error::Config {
                    file: path.display().to_string(),
                    message: format!("cannot read the optimizer state: {e:?}"),
                })?;
                (saved.preprocess, saved.step)
            }
            None => (normalized_for(&data, &options)?, 0),
        };
        Ok(Self {
            clip: clip.train().set_require_grad(true),
            layout,
            optimizer,
            tokenizer,
            tokenizer_files,
            preprocess,
            data,
            device: device.clone(),
            step,
            options,
        })
    }

    pub fn options(&self) -> &TrainOptions {
        &self.options
    }

    /// The next step to run.
    pub fn step(&self) -> usize {
        self.step
    }

    pub fn finished(&self) -> bool {
        self.step >= self.options.steps
    }

    /// Runs one optimisation step.
    pub fn train_step(&mut self) -> Result<StepReport> {
        let started = Instant::now();
        let options = &self.options;
        let n = options.batch_size;
        let pairs = self.data.batch(self.step, n)?;
        let size = options.model.vision_config.image_size;
        let pixels: Vec<f32> = pairs
            .iter()
            .flat_map(|pair| preprocess::preprocess(&pair.image, &self.preprocess))
            .collect();
        let pixels =
            Tensor::<4>::from_data(TensorData::new(pixels, [n, 3, size, size]), &self.device);
        let texts: Vec<&str> = pairs.iter().map(|p| p.text.as_str()).collect();
        let ids = self.tokenizer.encode_batch(&texts)?;

        let matches = caption_matches(&pairs, &ids);
        let (loss, logits) = contrastive_loss(&self.clip, &options.model, pixels, &ids, &matches)?;
        let loss_value = loss.clone().into_scalar::<f32>();
        if !loss_value.is_finite() {
            return Err(Error::Input(format!(
                "the loss became {loss_value} at step {}; lower the learning rate",
                self.step
            )));
        }
        let logits_values = logits.into_data().try_into_vec::<f32>().unwrap_or_default();
        let mut grads = GradientsParams::from_grads(loss.backward(), &self.clip);
        clip_global_norm(&mut grads, &self.layout, options.max_grad_norm);
        let learning_rate = options.learning_rate_at(self.step);
        let clip = self.clip.clone();
        let clip = self.optimizer.step(learning_rate, clip, grads);
        self.clip = clamp_logit_scale(clip);
        self.step += 1;

        let logit_scale = self.clip.logit_scale.val().into_scalar::<f32>();
        Ok(StepReport {
            step: self.step,
            steps: self.options.steps,
            loss: loss_value,
            batch_accuracy: matching_accuracy(&logits_values, &matches, n),
            logit_scale: logit_scale.exp(),
            learning_rate,
            pairs_per_second: n as f32 / started.elapsed().as_secs_f32(),
        })
    }

    /// Writes the model in the Hugging Face layout to `out`, and to
    /// `out/checkpoint` the f32 weights, optimizer state and run state that
    /// [`Trainer::resume`] reads.
    pub fn save(&self, out: &Path) -> Result<()> {
        let dir = out.join(CHECKPOINT_DIR);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let export = if self.options.export_f16 {
            SaveDtype::F16
        } else {
            SaveDtype::F32
        };
        let clip = self.clip.valid();
        self.write_model_folder(out, &clip, export)?;
        self.write_model_folder(&dir, &clip, SaveDtype::F32)?;
        let optimizer_path = dir.join(OPTIMIZER_FILE);
        self.optimizer
            .save(&optimizer_path)
            .map_err(|e| Error::Config {
                file: optimizer_path.display().to_string(),
                message: format!("cannot write: {e:?}"),
            })?;
        let state = TrainerState {
            options: self.options.clone(),
            step: self.step,
        };
        let state_text = serde_json::to_string_pretty(&state).expect("state serializes");
        write(&dir.join(STATE_FILE), state_text.as_bytes())
    }

    fn write_model_folder(&self, dir: &Path, clip: &Clip, dtype: SaveDtype) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        write(
            &dir.join(model::WEIGHTS_FILE),
            &loader::save_clip(clip, &self.layout, dtype)?,
        )?;
        write(
            &dir.join(model::CONFIG_FILE),
            self.options.model.to_json().as_bytes(),
        )?;
        write(
            &dir.join(model::PREPROCESSOR_FILE),
            self.preprocess.to_json().as_bytes(),
        )?;
        let t = &self.tokenizer_files;
        write(&dir.join(model::TOKENIZER_FILE), &t.tokenizer)?;
        if let Some(text) = &t.tokenizer_config {
            write(&dir.join(model::TOKENIZER_CONFIG_FILE), text.as_bytes())?;
        }
        if let Some(text) = &t.special_tokens_map {
            write(&dir.join(SPECIAL_TOKENS_FILE), text.as_bytes())?;
        }
        Ok(())
    }
}

/// How many training images the pixel statistics are taken over, at most.
const STATISTICS_IMAGES: usize = 512;

/// CLIP's preprocessing, normalized by the mean and standard deviation of
/// each colour channel over the first training images rather than by
/// CLIP's photo statistics. Drawings are mostly white paper: under CLIP's
/// values every blank patch is one large constant vector and ink only a
/// small change to it, while here paper sits near zero and ink stands out.
fn normalized_for(data: &Data, options: &TrainOptions) -> Result<PreprocessConfig> {
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

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|e| Error::io(path, e))
}

fn adamw(weight_decay: f32) -> AdamWConfig {
    AdamWConfig::new()
        .with_beta_2(0.98)
        .with_epsilon(1e-6)
        .with_weight_decay(weight_decay)
}

/// The rank of a parameter as Burn holds it (linear and patch weights are
/// 2-d matrices, the stored 0-d temperature one element).
fn held_rank(stored: &crate::loader::StoredParam) -> usize {
    if stored.transposed {
        2
    } else {
        stored.shape.len().max(1)
    }
}

/// AdamW with decoupled weight decay on the matrices only: as in CLIP,
/// gains, biases, embeddings and the temperature are not decayed.
fn optimizer(options: &TrainOptions, layout: &Layout) -> ModuleOptimizer {
    let no_decay: Vec<ParamId> = layout
        .iter()
        .filter(|p| held_rank(p) == 1 || p.name.contains("embedding"))
        .map(|p| p.id)
        .collect();
    ModuleOptimizer::from(adamw(options.weight_decay).build()).with_group(
        ParamGroup::from_ids(no_decay),
        adamw(0.0).build(),
        None,
    )
}

/// Scales every gradient by `max_norm / norm` when the global L2 norm of all
/// of them exceeds `max_norm`.
fn clip_global_norm(grads: &mut GradientsParams, layout: &Layout, max_norm: f32) {
    let mut squares = Vec::with_capacity(layout.len());
    for p in layout {
        let square_sum = match held_rank(p) {
            1 => grads.get::<1>(p.id).map(|g| g.square().sum()),
            _ => grads.get::<2>(p.id).map(|g| g.square().sum()),
        };
        squares.extend(square_sum);
    }
    if squares.is_empty() {
        return;
    }
    let norm = Tensor::cat(squares, 0).sum().sqrt().into_scalar::<f32>();
    if norm <= max_norm || !norm.is_finite() {
        return;
    }
    let factor = max_norm / norm;
    for p in layout {
        match held_rank(p) {
            1 => {
                if let Some(g) = grads.remove::<1>(p.id) {
                    grads.register(p.id, g * factor);
                }
            }
            _ => {
                if let Some(g) = grads.remove::<2>(p.id) {
                    grads.register(p.id, g * factor);
                }
            }
        }
    }
}

/// Keeps the learned temperature's inverse at or below 100, as CLIP does
/// after every update.
fn clamp_logit_scale(mut clip: Clip) -> Clip {
    clip.logit_scale = clip
        .logit_scale
        .map(|t| t.clamp_max(MAX_LOGIT_SCALE).detach().require_grad());
    clip
}

/// Trains until the last step, saving every `checkpoint_every` steps and at
/// the end; `on_step` sees every step's report.
pub fn run(trainer: &mut Trainer, out: &Path, mut on_step: impl FnMut(&StepReport)) -> Result<()> {
    while !trainer.finished() {
        let report = trainer.train_step()?;
        on_step(&report);
        let every = trainer.options.checkpoint_every.max(1);
        if trainer.step.is_multiple_of(every) || trainer.finished() {
            trainer.save(out)?;
        }
    }
    Ok(())
}
