//! A ready-to-use CLIP: weights, tokenizer and preprocessing of one model
//! folder in the Hugging Face layout, on one device.

use std::collections::HashMap;
use std::sync::Mutex;

#[cfg(not(target_family = "wasm"))]
use burn::cubecl::future::block_on;
use burn::tensor::{Device, Tensor, TensorData};
use image::RgbImage;

use crate::config::ClipConfig;
use crate::error::{Error, Result};
use crate::kernels::self_check::check_kernels;
use crate::model::Clip;
use crate::model::safetensors::WeightBytes;
use crate::model::weights::load_clip;
use crate::preprocess::{self, PreprocessConfig};
use crate::sketch;
use crate::tokenizer::ClipTokenizer;

pub const CONFIG_FILE: &str = "config.json";
pub const WEIGHTS_FILE: &str = "model.safetensors";
pub const TOKENIZER_FILE: &str = "tokenizer.json";
pub const TOKENIZER_CONFIG_FILE: &str = "tokenizer_config.json";
pub const PREPROCESSOR_FILE: &str = "preprocessor_config.json";

/// A file of a model folder: its name, whether it is UTF-8 text, whether a
/// folder may leave it out.
pub struct ModelFile {
    pub name: &'static str,
    pub text: bool,
    pub optional: bool,
}

/// Every file a model folder may hold, in the order they are read.
pub const MODEL_FILES: [ModelFile; 5] = [
    ModelFile {
        name: CONFIG_FILE,
        text: true,
        optional: false,
    },
    ModelFile {
        name: WEIGHTS_FILE,
        text: false,
        optional: false,
    },
    ModelFile {
        name: TOKENIZER_FILE,
        text: false,
        optional: false,
    },
    ModelFile {
        name: TOKENIZER_CONFIG_FILE,
        text: true,
        optional: true,
    },
    ModelFile {
        name: PREPROCESSOR_FILE,
        text: true,
        optional: true,
    },
];

/// Images and texts go through the encoders this many at a time.
const BATCH: usize = 16;
/// The text-embedding cache is emptied when it grows past this many texts.
const TEXT_CACHE_LIMIT: usize = 8192;

/// The files of a model folder, already read (from disk, the network or a
/// browser's file picker).
pub struct ModelFiles {
    pub config: String,
    /// `model.safetensors`, in memory or wherever a browser holds it.
    pub weights: Box<dyn WeightBytes>,
    pub tokenizer: Vec<u8>,
    pub tokenizer_config: Option<String>,
    pub preprocessor_config: Option<String>,
}

#[cfg(not(target_family = "wasm"))]
impl ModelFiles {
    pub fn read_dir(dir: &std::path::Path) -> Result<Self> {
        use crate::files::{self, FileKind};
        let read = |name: &str| files::read(&dir.join(name), FileKind::Text);
        let read_text = |name: &str| files::read_text(&dir.join(name));
        let optional = |name: &str| match dir.join(name).exists() {
            true => read_text(name).map(Some),
            false => Ok(None),
        };
        if !dir.join(WEIGHTS_FILE).exists() && dir.join("pytorch_model.bin").exists() {
            return Err(Error::Weights {
                file: dir.join(WEIGHTS_FILE).display().to_string(),
                message: "is missing; this folder only has pytorch_model.bin, and webclip reads \
                          safetensors (openai/clip-vit-base-patch32 has model.safetensors at \
                          revision refs/pr/15)"
                    .into(),
            });
        }
        Ok(Self {
            config: read_text(CONFIG_FILE)?,
            weights: Box::new(files::read_safetensors(&dir.join(WEIGHTS_FILE))?),
            tokenizer: read(TOKENIZER_FILE)?,
            tokenizer_config: optional(TOKENIZER_CONFIG_FILE)?,
            preprocessor_config: optional(PREPROCESSOR_FILE)?,
        })
    }
}

pub struct ClipPipeline {
    pub clip: Clip,
    pub config: ClipConfig,
    pub tokenizer: ClipTokenizer,
    pub preprocess: PreprocessConfig,
    device: Device,
    text_cache: Mutex<HashMap<String, Vec<f32>>>,
    /// What a user should know about how the model runs (the kernels' check).
    notes: Vec<String>,
    fingerprint: String,
}

/// A short name for the exact model files: a hash of config.json and a
/// sample of the weights (their header and 64 evenly spaced slices), so two
/// checkpoints of one shape differ while hashing stays instant.
fn fingerprint(files: &ModelFiles) -> String {
    const SLICES: usize = 64;
    const SLICE: usize = 4096;
    let weights = &files.weights;
    let len = weights.byte_len();
    let mut sample = files.config.as_bytes().to_vec();
    sample.extend_from_slice(&(len as u64).to_le_bytes());
    let step = (len / SLICES).max(1);
    for start in (0..len).step_by(step).take(SLICES + 1) {
        sample.extend_from_slice(&weights.read(start..(start + SLICE).min(len)));
    }
    format!("{:016x}", crate::rng::fnv1a(&sample))
}

impl ClipPipeline {
    pub fn from_files(files: &ModelFiles, device: &Device) -> Result<Self> {
        let config = ClipConfig::from_json(&files.config, CONFIG_FILE)?;
        // Within u32: the config's sizes are bounded when it is read.
        let image_size = u32::try_from(config.vision_config.image_size)
            .map_err(|_| Error::Unsupported("an image size above 2^32".into()))?;
        let preprocess = match &files.preprocessor_config {
            Some(text) => PreprocessConfig::from_json(text, PREPROCESSOR_FILE)?,
            None => PreprocessConfig::clip_default(image_size),
        };
        let preprocess_error = |message: String| Error::Config {
            file: PREPROCESSOR_FILE.into(),
            message,
        };
        if !preprocess.do_center_crop {
            return Err(preprocess_error(format!(
                "do_center_crop is false, so images would reach the model at their own size; \
                 the vision model takes {image_size}x{image_size} (set it to true)"
            )));
        }
        if (preprocess.crop_height, preprocess.crop_width) != (image_size, image_size) {
            return Err(preprocess_error(format!(
                "crops images to {}x{} but the vision model takes {image_size}x{image_size}",
                preprocess.crop_width, preprocess.crop_height
            )));
        }
        let tokenizer = ClipTokenizer::from_json(
            &files.tokenizer,
            files.tokenizer_config.as_deref(),
            config.text_config.max_position_embeddings,
        )?;
        tokenizer.check_fits(&config.text_config, TOKENIZER_FILE, CONFIG_FILE)?;
        let clip = load_clip(files.weights.as_ref(), WEIGHTS_FILE, &config, device)?;
        Ok(Self {
            clip,
            config,
            tokenizer,
            preprocess,
            device: device.clone(),
            text_cache: Mutex::new(HashMap::new()),
            notes: Vec::new(),
            fingerprint: fingerprint(files),
        })
    }

    /// Checks our GPU kernels on this model's device before the first real
    /// call (see [`check_kernels`]); a disagreement becomes a note.
    pub async fn check_kernels(&mut self) {
        self.notes.extend(check_kernels(&self.device).await);
    }

    /// A short name for the exact model files (see [`fingerprint`]): what a
    /// collection of embeddings records, so it never mixes models.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// What a user should know about how the model runs, one sentence each.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// The model folder `dir`, read, loaded and its kernels checked.
    #[cfg(not(target_family = "wasm"))]
    pub fn load_dir(dir: &std::path::Path, device: &Device) -> Result<Self> {
        let mut model = Self::from_files(&ModelFiles::read_dir(dir)?, device)?;
        block_on(model.check_kernels());
        Ok(model)
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn embed_dim(&self) -> usize {
        self.config.projection_dim
    }

    /// Decodes and preprocesses one image file's bytes with this model's settings.
    pub fn pixel_values(&self, bytes: &[u8], name: &str) -> Result<Vec<f32>> {
        preprocess::pixel_values(bytes, name, &self.preprocess)
    }

    /// Preprocessed images (CHW, as [`Self::pixel_values`] gives) -> unit-norm embeddings.
    pub fn image_embeds_tensor(&self, pixels: &[&[f32]]) -> Result<Tensor<2>> {
        let size = self.config.vision_config.image_size;
        let per_image = 3 * size * size;
        if pixels.is_empty() {
            return Err(Error::Input("no images to encode".into()));
        }
        if let Some(bad) = pixels.iter().find(|p| p.len() != per_image) {
            return Err(Error::Input(format!(
                "pixel values hold {} numbers, expected 3x{size}x{size} = {per_image}",
                bad.len()
            )));
        }
        let flat: Vec<f32> = pixels.iter().flat_map(|p| p.iter().copied()).collect();
        let batch = Tensor::<4>::from_data(
            TensorData::new(flat, [pixels.len(), 3, size, size]),
            &self.device,
        );
        Ok(self.clip.image_embeds(batch))
    }

    /// Runs one blank image and one text through the model and reads the
    /// results back, so that a GPU compiles the pipelines of both encoders
    /// now (while a page shows its progress bar) rather than during the first
    /// real call. Nothing is cached.
    pub async fn warm_up(&self) -> Result<()> {
        let size = self.config.vision_config.image_size;
        let blank = vec![0.0f32; 3 * size * size];
        read_rows_async(self.image_embeds_tensor(&[&blank])?).await?;
        read_rows_async(self.text_embeds_tensor(&["a photo"])?).await?;
        Ok(())
    }

    /// Texts -> unit-norm embeddings (not cached; see [`Self::embed_texts`]).
    pub fn text_embeds_tensor(&self, texts: &[&str]) -> Result<Tensor<2>> {
        if texts.is_empty() {
            return Err(Error::Input("no texts to encode".into()));
        }
        let ids = self.tokenizer.encode_batch(texts)?;
        self.clip.text_embeds(&ids)
    }

    /// Texts whose embeddings are not cached yet, each once.
    pub fn uncached_texts<'t>(&self, texts: &[&'t str]) -> Vec<&'t str> {
        let cache = self.text_cache.lock().unwrap();
        let mut missing: Vec<&str> = texts
            .iter()
            .copied()
            .filter(|t| !cache.contains_key(*t))
            .collect();
        missing.sort_unstable();
        missing.dedup();
        missing
    }

    /// Stores computed embeddings (`rows` in the order of `texts`) in the cache.
    pub fn cache_texts(&self, texts: &[&str], rows: Vec<Vec<f32>>) {
        let mut cache = self.text_cache.lock().unwrap();
        if cache.len() + texts.len() > TEXT_CACHE_LIMIT {
            cache.clear();
        }
        cache.extend(texts.iter().map(|t| t.to_string()).zip(rows));
    }

    /// Cached embeddings of `texts`, in order; `None` if any is missing.
    pub fn cached_texts(&self, texts: &[&str]) -> Option<Vec<Vec<f32>>> {
        let cache = self.text_cache.lock().unwrap();
        texts.iter().map(|t| cache.get(*t).cloned()).collect()
    }

    /// Host rows (all the same length) as a `[rows, dim]` tensor on this model's device.
    pub fn rows_to_tensor(&self, rows: &[Vec<f32>]) -> Tensor<2> {
        let dim = rows.first().map_or(0, Vec::len);
        let flat: Vec<f32> = rows.iter().flatten().copied().collect();
        Tensor::from_data(TensorData::new(flat, [rows.len(), dim]), &self.device)
    }
}

/// Splits a `[rows, dim]` tensor's values into rows.
pub fn split_rows(values: Vec<f32>, dim: usize) -> Vec<Vec<f32>> {
    values.chunks(dim.max(1)).map(<[f32]>::to_vec).collect()
}

/// Reads a `[rows, dim]` tensor back to the host (asynchronously: browsers
/// cannot block on the GPU). Every result leaves the model here, so here a
/// NaN or infinity becomes an error instead of an answer.
pub async fn read_rows_async(tensor: Tensor<2>) -> Result<Vec<Vec<f32>>> {
    let [_, dim] = tensor.dims();
    let on_gpu = tensor.device() != crate::device::cpu();
    let fault = || {
        let fault = on_gpu.then(crate::kernels::gpu_fault).flatten()?;
        Some(Error::Device(format!(
            "{fault}, so its results cannot be trusted; load the model on the CPU"
        )))
    };
    if let Some(fault) = fault() {
        return Err(fault);
    }
    let values = tensor
        .into_data_async()
        .await
        .map_err(|e| {
            Error::Device(format!(
                "the GPU stopped answering ({}); load the model again, on the CPU if it \
                 happens again",
                innermost_cause(&format!("{e:?}"))
            ))
        })?
        .try_into_vec::<f32>()
        .map_err(|e| Error::Device(format!("unexpected result type: {e:?}")))?;
    if let Some(fault) = fault() {
        return Err(fault);
    }
    if values.iter().any(|v| !v.is_finite()) {
        return Err(Error::NonFinite("output"));
    }
    Ok(split_rows(values, dim))
}

/// The unit vector along the sum of `rows` (each of them unit-norm, so the
/// sum is never zero in practice; a zero sum stays zero).
fn mean_direction(rows: impl Iterator<Item = Vec<f32>>) -> Vec<f32> {
    let mut sum: Vec<f32> = Vec::new();
    for row in rows {
        sum.resize(row.len(), 0.0);
        sum.iter_mut().zip(&row).for_each(|(s, v)| *s += v);
    }
    let norm = sum.iter().map(|v| v * v).sum::<f32>().sqrt();
    if norm > 0.0 {
        sum.iter_mut().for_each(|v| *v /= norm);
    }
    sum
}

/// The last cause of the runtime's multi-line error report (its root).
fn innermost_cause(report: &str) -> &str {
    report
        .lines()
        .map(str::trim)
        .take_while(|line| !line.starts_with("Backtrace"))
        .filter(|line| !line.is_empty() && !line.starts_with("Caused by"))
        .last()
        .unwrap_or(report)
}

impl ClipPipeline {
    /// Unit-norm embeddings of any number of preprocessed images, encoded
    /// [`BATCH`] at a time, left on the device: `[images, dim]`.
    pub fn image_embeds_batched(&self, pixels: &[Vec<f32>]) -> Result<Tensor<2>> {
        let batches = pixels
            .chunks(BATCH)
            .map(|chunk| {
                let refs: Vec<&[f32]> = chunk.iter().map(Vec::as_slice).collect();
                self.image_embeds_tensor(&refs)
            })
            .collect::<Result<Vec<_>>>()?;
        match batches.len() {
            0 => Err(Error::Input("no images to encode".into())),
            _ => Ok(Tensor::cat(batches, 0)),
        }
    }

    /// Unit-norm embeddings of preprocessed images, in order.
    pub async fn embed_images_async(&self, pixels: &[Vec<f32>]) -> Result<Vec<Vec<f32>>> {
        read_rows_async(self.image_embeds_batched(pixels)?).await
    }

    /// Unit-norm embeddings of drawings, in order: each the mean direction
    /// of its ink's framed views ([`sketch::ink_views`]), so a drawing made
    /// small or in a corner counts like a large one in the middle.
    pub async fn embed_drawings_async(&self, drawings: &[RgbImage]) -> Result<Vec<Vec<f32>>> {
        let (mut pixels, mut views) = (Vec::new(), Vec::new());
        for drawing in drawings {
            let framed = sketch::ink_views(drawing);
            views.push(framed.len());
            pixels.extend(
                framed
                    .iter()
                    .map(|v| preprocess::preprocess(v, &self.preprocess)),
            );
        }
        let mut rows = self.embed_images_async(&pixels).await?.into_iter();
        Ok(views
            .into_iter()
            .map(|n| mean_direction(rows.by_ref().take(n)))
            .collect())
    }

    /// Unit-norm embeddings of texts, in order; each distinct text is encoded
    /// once per model and then served from the cache.
    pub async fn embed_texts_async(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Err(Error::Input("no texts to encode".into()));
        }
        let missing = self.uncached_texts(texts);
        for chunk in missing.chunks(BATCH) {
            let rows = read_rows_async(self.text_embeds_tensor(chunk)?).await?;
            self.cache_texts(chunk, rows);
        }
        match self.cached_texts(texts) {
            Some(rows) => Ok(rows),
            // Only when the cache was emptied mid-call by a huge batch.
            None => read_rows_async(self.text_embeds_tensor(texts)?).await,
        }
    }
}

/// Blocking forms of the async calls, for native callers.
#[cfg(not(target_family = "wasm"))]
pub fn read_rows(tensor: Tensor<2>) -> Result<Vec<Vec<f32>>> {
    block_on(read_rows_async(tensor))
}

#[cfg(not(target_family = "wasm"))]
impl ClipPipeline {
    pub fn embed_images(&self, pixels: &[Vec<f32>]) -> Result<Vec<Vec<f32>>> {
        block_on(self.embed_images_async(pixels))
    }

    pub fn embed_drawings(&self, drawings: &[RgbImage]) -> Result<Vec<Vec<f32>>> {
        block_on(self.embed_drawings_async(drawings))
    }

    pub fn embed_texts(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        block_on(self.embed_texts_async(texts))
    }
}
