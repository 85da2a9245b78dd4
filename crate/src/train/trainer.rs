//! The training loop's state: model, optimizer and data; one step; and the
//! checkpoints a run saves and resumes from.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::{Module, ParamGroup, ParamId};
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::data::{Data, normalized_for};
use super::init::init_clip;
use super::loss::{caption_matches, contrastive_loss, matching_accuracy};
use super::vocabulary::Vocabulary;
use super::{MAX_LOGIT_SCALE, StepReport, TrainOptions};
use crate::config::ClipConfig;
use crate::error::{Error, Result};
use crate::files::{self, FileKind};
use crate::model::Clip;
use crate::model::weights::{self, SaveDtype, StoredParam, StoredParams};
use crate::pipeline;
use crate::preprocess::{self, PreprocessConfig};
use crate::tokenizer::ClipTokenizer;

/// The folder inside a training output that holds what resuming needs.
pub const CHECKPOINT_DIR: &str = "checkpoint";
pub(super) const OPTIMIZER_FILE: &str = "optimizer.bpk";
pub(super) const STATE_FILE: &str = "trainer.json";

pub struct Trainer {
    options: TrainOptions,
    clip: Clip,
    params: StoredParams,
    optimizer: ModuleOptimizer,
    tokenizer: ClipTokenizer,
    tokenizer_files: TokenizerFiles,
    preprocess: PreprocessConfig,
    data: Data,
    /// The token rows trained; `clip` holds only those.
    vocabulary: Vocabulary,
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
        let path = dir.join(pipeline::TOKENIZER_FILE);
        let tokenizer = files::read(&path, FileKind::Text)?;
        let optional = |name: &str| files::read_text(&dir.join(name)).ok();
        Ok(Self {
            tokenizer,
            tokenizer_config: optional(pipeline::TOKENIZER_CONFIG_FILE),
            special_tokens_map: optional(SPECIAL_TOKENS_FILE),
        })
    }
}

pub(super) const SPECIAL_TOKENS_FILE: &str = "special_tokens_map.json";

/// What a checkpoint holds besides the weights and the options.
pub(super) struct Checkpoint {
    optimizer_state: PathBuf,
    /// The pixel normalization the run started with.
    preprocess: PreprocessConfig,
    /// The next step to run.
    step: usize,
    /// How many token rows its optimizer state holds.
    token_rows: Option<usize>,
}

/// Where a run's weights and pixel normalization come from.
pub(super) enum Start {
    /// Initial weights; normalization from the training images.
    Fresh,
    /// A trained model's weights and normalization (fine-tuning).
    Model { preprocess: PreprocessConfig },
    /// A stopped run of this trainer.
    Checkpoint(Checkpoint),
}

#[derive(Serialize, Deserialize)]
pub(super) struct RunState {
    options: TrainOptions,
    /// The next step to run.
    step: usize,
    /// How many token rows the optimizer state holds (absent in runs saved
    /// before only the used rows were trained, which cannot be resumed).
    #[serde(default)]
    token_rows: Option<usize>,
}

impl Trainer {
    /// A new run from freshly initialised weights.
    pub fn new(options: TrainOptions, tokenizer: TokenizerFiles, device: &Device) -> Result<Self> {
        let device = device.clone().autodiff();
        let (clip, params) = init_clip(&options.model, options.seed, &device)?;
        Self::assemble(options, clip, params, tokenizer, Start::Fresh, &device)
    }

    /// A new run that starts from the weights of the model folder `from`
    /// (fine-tuning): its architecture, tokenizer and pixel normalization
    /// replace those in `options`, so the result reads pixels and prompts as
    /// the model it started from did.
    pub fn fine_tune(mut options: TrainOptions, from: &Path, device: &Device) -> Result<Self> {
        let device = device.clone().autodiff();
        let config_path = from.join(pipeline::CONFIG_FILE);
        options.model = ClipConfig::from_json(
            &files::read_text(&config_path)?,
            &config_path.display().to_string(),
        )?;
        let (clip, params, tokenizer, preprocess) =
            read_model_folder(from, &options.model, &device)?;
        let start = Start::Model { preprocess };
        Self::assemble(options, clip, params, tokenizer, start, &device)
    }

    /// Continues the run checkpoint in `out` (a folder [`Trainer::save`] wrote).
    pub fn resume(out: &Path, device: &Device) -> Result<Self> {
        let dir = out.join(CHECKPOINT_DIR);
        let state_path = dir.join(STATE_FILE);
        let state_text = files::read_text(&state_path)?;
        let state: RunState = serde_json::from_str(&state_text).map_err(|e| Error::Config {
            file: state_path.display().to_string(),
            message: e.to_string(),
        })?;
        let device = device.clone().autodiff();
        let (clip, params, tokenizer, preprocess) =
            read_model_folder(&dir, &state.options.model, &device)?;
        let checkpoint = Checkpoint {
            optimizer_state: dir.join(OPTIMIZER_FILE),
            preprocess,
            step: state.step,
            token_rows: state.token_rows,
        };
        Self::assemble(
            state.options,
            clip,
            params,
            tokenizer,
            Start::Checkpoint(checkpoint),
            &device,
        )
    }

    /// A trainer at step 0, or where a checkpoint says a run stopped.
    fn assemble(
        options: TrainOptions,
        clip: Clip,
        params: StoredParams,
        tokenizer_files: TokenizerFiles,
        start: Start,
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
        let vocabulary = Vocabulary::of(&data.caption_words(), &tokenizer, &clip)?;
        let clip = vocabulary.compact(clip);
        let mut optimizer = optimizer(&options, &params);
        let (preprocess, step) = match start {
            Start::Checkpoint(checkpoint) => {
                if checkpoint.token_rows != Some(vocabulary.len()) {
                    return Err(Error::Input(
                        "this checkpoint's optimizer state is not for the token rows this \
                         version trains; start the run again"
                            .into(),
                    ));
                }
                let path = checkpoint.optimizer_state;
                optimizer = optimizer.load(&path).map_err(|e| Error::Config {
                    file: path.display().to_string(),
                    message: format!("cannot read the optimizer state: {e:?}"),
                })?;
                (checkpoint.preprocess, checkpoint.step)
            }
            Start::Model { preprocess } => (preprocess, 0),
            Start::Fresh => (normalized_for(&data, &options)?, 0),
        };
        Ok(Self {
            clip: clip.train().set_require_grad(true),
            params,
            optimizer,
            tokenizer,
            tokenizer_files,
            preprocess,
            data,
            vocabulary,
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
        let ids = self
            .vocabulary
            .renumber(self.tokenizer.encode_batch(&texts)?)?;

        let matches = caption_matches(&pairs, &ids);
        let (loss, logits) = contrastive_loss(&self.clip, pixels, &ids, &matches)?;
        let loss_value = loss.clone().into_scalar::<f32>();
        if !loss_value.is_finite() {
            return Err(Error::Input(format!(
                "the loss became {loss_value} at step {}; lower the learning rate",
                self.step
            )));
        }
        let logits_values = logits.into_data().try_into_vec::<f32>().unwrap_or_default();
        let mut grads = GradientsParams::from_grads(loss.backward(), &self.clip);
        clip_global_norm(&mut grads, &self.params, options.max_grad_norm);
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

    /// Writes the model in the Hugging Face params to `out`, and to
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
        let clip = self.vocabulary.expand(self.clip.valid());
        self.write_model_folder(out, &clip, export)?;
        self.write_model_folder(&dir, &clip, SaveDtype::F32)?;
        let optimizer_path = dir.join(OPTIMIZER_FILE);
        self.optimizer
            .save(&optimizer_path)
            .map_err(|e| Error::Config {
                file: optimizer_path.display().to_string(),
                message: format!("cannot write: {e:?}"),
            })?;
        let state = RunState {
            options: self.options.clone(),
            step: self.step,
            token_rows: Some(self.vocabulary.len()),
        };
        let state_text = serde_json::to_string_pretty(&state).expect("state serializes");
        write(&dir.join(STATE_FILE), state_text.as_bytes())
    }

    fn write_model_folder(&self, dir: &Path, clip: &Clip, dtype: SaveDtype) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        write(
            &dir.join(pipeline::WEIGHTS_FILE),
            &weights::save_clip(clip, &self.params, dtype)?,
        )?;
        write(
            &dir.join(pipeline::CONFIG_FILE),
            self.options.model.to_json().as_bytes(),
        )?;
        write(
            &dir.join(pipeline::PREPROCESSOR_FILE),
            self.preprocess.to_json().as_bytes(),
        )?;
        let t = &self.tokenizer_files;
        write(&dir.join(pipeline::TOKENIZER_FILE), &t.tokenizer)?;
        if let Some(text) = &t.tokenizer_config {
            write(&dir.join(pipeline::TOKENIZER_CONFIG_FILE), text.as_bytes())?;
        }
        if let Some(text) = &t.special_tokens_map {
            write(&dir.join(SPECIAL_TOKENS_FILE), text.as_bytes())?;
        }
        Ok(())
    }
}

/// What training needs from a model folder to go on from it: its weights as
/// trainable parameters of the `config` architecture, its tokenizer files
/// and its pixel normalization.
fn read_model_folder(
    dir: &Path,
    config: &ClipConfig,
    device: &Device,
) -> Result<(Clip, StoredParams, TokenizerFiles, PreprocessConfig)> {
    let weights_path = dir.join(pipeline::WEIGHTS_FILE);
    let weights = files::read_safetensors(&weights_path)?;
    let (clip, params) = weights::load_clip_with_params(
        &weights,
        &weights_path.display().to_string(),
        config,
        device,
    )?;
    let tokenizer = TokenizerFiles::read_dir(dir)?;
    let preprocess_path = dir.join(pipeline::PREPROCESSOR_FILE);
    let preprocess = PreprocessConfig::from_json(
        &files::read_text(&preprocess_path)?,
        &preprocess_path.display().to_string(),
    )?;
    Ok((clip, params, tokenizer, preprocess))
}

pub(super) fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|e| Error::io(path, e))
}

pub(super) fn adamw(weight_decay: f32) -> AdamWConfig {
    AdamWConfig::new()
        .with_beta_2(0.98)
        .with_epsilon(1e-6)
        .with_weight_decay(weight_decay)
}

/// The rank of a parameter as Burn holds it (linear and patch weights are
/// 2-d matrices, the stored 0-d temperature one element).
pub(super) fn held_rank(stored: &StoredParam) -> usize {
    if stored.transposed {
        2
    } else {
        stored.shape.len().max(1)
    }
}

/// AdamW with decoupled weight decay on the matrices only: as in CLIP,
/// gains, biases, embeddings and the temperature are not decayed.
pub(super) fn optimizer(options: &TrainOptions, params: &StoredParams) -> ModuleOptimizer {
    let no_decay: Vec<ParamId> = params
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
pub(super) fn clip_global_norm(grads: &mut GradientsParams, params: &StoredParams, max_norm: f32) {
    let mut squares = Vec::with_capacity(params.len());
    for p in params {
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
    for p in params {
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
pub(super) fn clamp_logit_scale(mut clip: Clip) -> Clip {
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
