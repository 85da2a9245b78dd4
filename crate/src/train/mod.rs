//! Contrastive pretraining as CLIP does it: a batch of N image-text pairs
//! through both encoders, the N×N cosine similarities scaled by the learned
//! temperature, and a symmetric cross-entropy that pulls each image toward
//! its own caption and away from the other N-1 (and each caption likewise).
//! The model is the inference model itself on an autodiff device.

//!
//! The parts: [`data`] (the pairs of each step), [`loss`] (targets and the
//! symmetric cross-entropy), [`init`] (the initial weights), [`vocabulary`]
//! (the token rows a run trains), [`trainer`] (optimizer, steps,
//! checkpoints).

mod data;
mod init;
mod loss;
mod trainer;
mod vocabulary;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::{Activation, ClipConfig, TextConfig, VisionConfig};
use crate::sketch::Spread;

pub use data::EVAL_SEED_BASE;
pub use init::{init_clip, random_clip};
pub use trainer::{CHECKPOINT_DIR, TokenizerFiles, Trainer, run};

/// `ln(100)`: CLIP keeps the temperature's inverse at or below 100.
pub const MAX_LOGIT_SCALE: f32 = 4.605_170_2;

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
    Sketches {
        size: u32,
        /// Older runs' saved options predate it: they drew the standard spread.
        #[serde(default)]
        spread: Spread,
    },
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
            data: DataSource::Sketches {
                size: 128,
                spread: Spread::Standard,
            },
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
