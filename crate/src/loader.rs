//! Builds [`Clip`] from a `model.safetensors` in the Hugging Face layout, or
//! from CLIP's random initialisation, and writes it back in that layout.
//! Every Hugging Face tensor name, and every layout change between theirs and
//! ours, lives in this file.

use std::cell::RefCell;
use std::collections::HashMap;

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::nn::{Embedding, LayerNorm, LayerNormConfig, Linear};
use burn::tensor::{Device, Tensor, TensorData};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};

use crate::clip::Clip;
use crate::config::{Activation, ClipConfig, TextConfig, VisionConfig};
use crate::encoder::{EncoderLayer, Mlp, SelfAttention};
use crate::error::{Error, Result};
use crate::text::TextTransformer;
use crate::vision::{VisionEmbeddings, VisionTransformer};

use crate::rng::{Rng, fnv1a};

/// Reads a `model.safetensors` buffer; `file` names it in errors.
pub fn load_clip(bytes: &[u8], file: &str, config: &ClipConfig, device: &Device) -> Result<Clip> {
    load_clip_with_layout(bytes, file, config, device).map(|(clip, _)| clip)
}

/// [`load_clip`], also returning where each parameter is stored in the file.
pub fn load_clip_with_layout(
    bytes: &[u8],
    file: &str,
    config: &ClipConfig,
    device: &Device,
) -> Result<(Clip, Layout)> {
    let tensors = SafeTensors::deserialize(bytes).map_err(|e| Error::Weights {
        file: file.into(),
        message: format!("not a complete safetensors file ({e}); re-download it"),
    })?;
    Weights::new(Source::File(tensors), file, device).build(config)
}

/// A freshly initialised CLIP, as transformers initialises `CLIPModel` (its
/// `_init_weights` with `initializer_factor` 1), deterministic for `seed`.
pub fn init_clip(config: &ClipConfig, seed: u64, device: &Device) -> Result<(Clip, Layout)> {
    Weights::new(Source::Init { seed, config }, "initial weights", device).build(config)
}

/// How a parameter is stored in the Hugging Face file.
#[derive(Clone, Debug)]
pub struct StoredParam {
    pub id: ParamId,
    pub name: String,
    pub shape: Vec<usize>,
    /// Stored as `[out, in]` (flattened), held by Burn as `[in, out]`.
    pub transposed: bool,
}

/// Every parameter of a built [`Clip`], in file order: what [`save_clip`]
/// needs to write the file back.
pub type Layout = Vec<StoredParam>;

/// The precision of a written `model.safetensors`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaveDtype {
    F32,
    F16,
}

/// `clip`'s parameters as a `model.safetensors` in the Hugging Face layout.
pub fn save_clip(clip: &Clip, layout: &Layout, dtype: SaveDtype) -> Result<Vec<u8>> {
    let mut values = ParamValues::default();
    clip.visit(&mut values);
    let mut buffers = Vec::with_capacity(layout.len());
    for stored in layout {
        let held = values.0.remove(&stored.id).ok_or_else(|| {
            Error::Input(format!("the model has no parameter for {}", stored.name))
        })?;
        let held = if stored.transposed {
            let d_out = stored.shape[0];
            transpose(&held, held.len() / d_out, d_out)
        } else {
            held
        };
        let bytes: Vec<u8> = match dtype {
            SaveDtype::F32 => held.iter().flat_map(|v| v.to_le_bytes()).collect(),
            SaveDtype::F16 => held
                .iter()
                .flat_map(|v| half::f16::from_f32(*v).to_le_bytes())
                .collect(),
        };
        buffers.push((stored, bytes));
    }
    let dtype = match dtype {
        SaveDtype::F32 => Dtype::F32,
        SaveDtype::F16 => Dtype::F16,
    };
    let views = buffers
        .iter()
        .map(|(stored, bytes)| {
            TensorView::new(dtype, stored.shape.clone(), bytes)
                .map(|view| (stored.name.clone(), view))
                .map_err(|e| Error::Input(format!("cannot write {}: {e}", stored.name)))
        })
        .collect::<Result<Vec<_>>>()?;
    let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
    safetensors::serialize(views, Some(metadata))
        .map_err(|e| Error::Input(format!("cannot write the weights: {e}")))
}

/// Row-major `[rows, cols]` values as `[cols, rows]`: torch's `[out, in]`
/// weights to Burn's `[in, out]` and back.
fn transpose(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; values.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = values[r * cols + c];
        }
    }
    out
}

/// Each float parameter's values, by id.
#[derive(Default)]
struct ParamValues(HashMap<ParamId, Vec<f32>>);

impl ModuleVisitor for ParamValues {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let values = param
            .val()
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap_or_default();
        self.0.insert(param.id, values);
    }
}

/// The shape of an encoder's stack of transformer blocks.
struct Stack {
    count: usize,
    hidden: usize,
    intermediate: usize,
    heads: usize,
    activation: Activation,
    eps: f64,
}

impl From<&VisionConfig> for Stack {
    fn from(c: &VisionConfig) -> Self {
        Self {
            count: c.num_hidden_layers,
            hidden: c.hidden_size,
            intermediate: c.intermediate_size,
            heads: c.num_attention_heads,
            activation: c.hidden_act,
            eps: c.layer_norm_eps,
        }
    }
}

impl From<&TextConfig> for Stack {
    fn from(c: &TextConfig) -> Self {
        Self {
            count: c.num_hidden_layers,
            hidden: c.hidden_size,
            intermediate: c.intermediate_size,
            heads: c.num_attention_heads,
            activation: c.hidden_act,
            eps: c.layer_norm_eps,
        }
    }
}

/// Where the values come from; both are asked by Hugging Face name.
enum Source<'a> {
    File(SafeTensors<'a>),
    Init { seed: u64, config: &'a ClipConfig },
}

struct Weights<'a> {
    source: Source<'a>,
    file: &'a str,
    device: &'a Device,
    layout: RefCell<Layout>,
}

impl<'a> Weights<'a> {
    fn new(source: Source<'a>, file: &'a str, device: &'a Device) -> Self {
        Self {
            source,
            file,
            device,
            layout: RefCell::new(Vec::new()),
        }
    }

    fn build(self, config: &ClipConfig) -> Result<(Clip, Layout)> {
        let clip = self.clip(config)?;
        Ok((clip, self.layout.into_inner()))
    }

    /// A parameter named after its tensor, so the same model always has the
    /// same ids (optimizer state saved with a checkpoint finds them again).
    fn record(&self, name: &str, shape: &[usize], transposed: bool) -> ParamId {
        let id = ParamId::from(fnv1a(name.as_bytes()));
        self.layout.borrow_mut().push(StoredParam {
            id,
            name: name.into(),
            shape: shape.to_vec(),
            transposed,
        });
        id
    }

    fn error(&self, tensor: &str, message: String) -> Error {
        Error::Tensor {
            file: self.file.into(),
            tensor: tensor.into(),
            message,
        }
    }

    /// The tensor's values as f32, checked against the expected shape (a
    /// 0-d tensor matches the shape `[1]`).
    fn values(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let tensors = match &self.source {
            Source::File(tensors) => tensors,
            Source::Init { seed, config } => return Ok(initial_values(name, shape, *seed, config)),
        };
        let view = tensors
            .tensor(name)
            .map_err(|_| self.error(name, "is missing".into()))?;
        let found = view.shape();
        let scalar_ok = found.is_empty() && shape == [1];
        if found != shape && !scalar_ok {
            return Err(self.error(name, format!("has shape {found:?}, expected {shape:?}")));
        }
        let data = view.data();
        let values: Vec<f32> = match view.dtype() {
            Dtype::F32 => data
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            Dtype::F16 => data
                .chunks_exact(2)
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            Dtype::BF16 => data
                .chunks_exact(2)
                .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            Dtype::F64 => data
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().unwrap()) as f32)
                .collect(),
            other => {
                return Err(self.error(
                    name,
                    format!("has dtype {other:?}; expected F32, F16, BF16 or F64"),
                ));
            }
        };
        Ok(values)
    }

    fn tensor<const D: usize>(&self, name: &str, shape: [usize; D]) -> Result<Tensor<D>> {
        let values = self.values(name, &shape)?;
        Ok(Tensor::from_data(
            TensorData::new(values, shape),
            self.device,
        ))
    }

    fn param<const D: usize>(&self, name: &str, shape: [usize; D]) -> Result<Param<Tensor<D>>> {
        let tensor = self.tensor(name, shape)?;
        Ok(Param::initialized(self.record(name, &shape, false), tensor))
    }

    /// A 0-d tensor in the file, one element here.
    fn scalar(&self, name: &str) -> Result<Param<Tensor<1>>> {
        let tensor = self.tensor(name, [1])?;
        Ok(Param::initialized(self.record(name, &[], false), tensor))
    }

    /// A torch weight whose `stored` shape flattens to `[d_out, d_in]` (an
    /// `nn.Linear`'s `[out, in]`, or a conv kernel per output channel), as
    /// the bias-free part of Burn's `Linear`: `[d_in, d_out]`.
    fn linear_weight(
        &self,
        name: &str,
        stored: &[usize],
        d_in: usize,
        d_out: usize,
    ) -> Result<Param<Tensor<2>>> {
        let weight = transpose(&self.values(name, stored)?, d_out, d_in);
        let weight = Tensor::from_data(TensorData::new(weight, [d_in, d_out]), self.device);
        Ok(Param::initialized(self.record(name, stored, true), weight))
    }

    /// A torch `nn.Linear` (`weight` is `[out, in]`) as Burn's `[in, out]`.
    fn linear(&self, prefix: &str, d_in: usize, d_out: usize, bias: bool) -> Result<Linear> {
        let weight =
            self.linear_weight(&format!("{prefix}.weight"), &[d_out, d_in], d_in, d_out)?;
        let bias = if bias {
            Some(self.param(&format!("{prefix}.bias"), [d_out])?)
        } else {
            None
        };
        Ok(Linear { weight, bias })
    }

    fn layer_norm(&self, prefix: &str, dim: usize, eps: f64) -> Result<LayerNorm> {
        let mut norm = LayerNormConfig::new(dim)
            .with_epsilon(eps)
            .init(self.device);
        norm.gamma = self.param(&format!("{prefix}.weight"), [dim])?;
        norm.beta = Some(self.param(&format!("{prefix}.bias"), [dim])?);
        Ok(norm)
    }

    fn encoder_layers(&self, prefix: &str, stack: Stack) -> Result<Vec<EncoderLayer>> {
        let Stack {
            count,
            hidden,
            intermediate,
            heads,
            activation,
            eps,
        } = stack;
        (0..count)
            .map(|i| {
                let p = format!("{prefix}.encoder.layers.{i}");
                let proj = |name: &str| {
                    self.linear(&format!("{p}.self_attn.{name}"), hidden, hidden, true)
                };
                Ok(EncoderLayer {
                    layer_norm1: self.layer_norm(&format!("{p}.layer_norm1"), hidden, eps)?,
                    self_attn: SelfAttention {
                        q_proj: proj("q_proj")?,
                        k_proj: proj("k_proj")?,
                        v_proj: proj("v_proj")?,
                        out_proj: proj("out_proj")?,
                        num_heads: heads,
                    },
                    layer_norm2: self.layer_norm(&format!("{p}.layer_norm2"), hidden, eps)?,
                    mlp: Mlp {
                        fc1: self.linear(&format!("{p}.mlp.fc1"), hidden, intermediate, true)?,
                        fc2: self.linear(&format!("{p}.mlp.fc2"), intermediate, hidden, true)?,
                        activation,
                    },
                })
            })
            .collect()
    }

    fn vision(&self, c: &VisionConfig) -> Result<VisionTransformer> {
        let (h, p) = (c.hidden_size, c.patch_size);
        let patch_in = c.num_channels * p * p;
        // The conv kernel [hidden, channels, p, p] flattened per output channel is
        // exactly the matrix over (channel, row, column)-ordered patches.
        let patch_embedding = Linear {
            weight: self.linear_weight(
                "vision_model.embeddings.patch_embedding.weight",
                &[h, c.num_channels, p, p],
                patch_in,
                h,
            )?,
            bias: None,
        };
        Ok(VisionTransformer {
            embeddings: VisionEmbeddings {
                patch_embedding,
                class_embedding: self.param("vision_model.embeddings.class_embedding", [h])?,
                position_embedding: self.param(
                    "vision_model.embeddings.position_embedding.weight",
                    [c.num_patches() + 1, h],
                )?,
                patch_size: p,
            },
            // "layrnorm" is the checkpoint's own spelling.
            pre_layernorm: self.layer_norm("vision_model.pre_layrnorm", h, c.layer_norm_eps)?,
            layers: self.encoder_layers("vision_model", Stack::from(c))?,
            post_layernorm: self.layer_norm("vision_model.post_layernorm", h, c.layer_norm_eps)?,
        })
    }

    fn text(&self, c: &TextConfig) -> Result<TextTransformer> {
        let h = c.hidden_size;
        Ok(TextTransformer {
            token_embedding: Embedding {
                weight: self.param(
                    "text_model.embeddings.token_embedding.weight",
                    [c.vocab_size, h],
                )?,
            },
            position_embedding: self.param(
                "text_model.embeddings.position_embedding.weight",
                [c.max_position_embeddings, h],
            )?,
            layers: self.encoder_layers("text_model", Stack::from(c))?,
            final_layer_norm: self.layer_norm(
                "text_model.final_layer_norm",
                h,
                c.layer_norm_eps,
            )?,
        })
    }

    fn clip(&self, c: &ClipConfig) -> Result<Clip> {
        let d = c.projection_dim;
        Ok(Clip {
            vision_model: self.vision(&c.vision_config)?,
            text_model: self.text(&c.text_config)?,
            visual_projection: self.linear(
                "visual_projection",
                c.vision_config.hidden_size,
                d,
                false,
            )?,
            text_projection: self.linear("text_projection", c.text_config.hidden_size, d, false)?,
            logit_scale: self.scalar("logit_scale")?,
        })
    }
}

/// transformers' initial value for the tensor `name` (`CLIPPreTrainedModel.
/// _init_weights`): normals whose spread depends on the layer, ones and zeros
/// for layer norms and biases, the configured temperature.
fn initial_values(name: &str, shape: &[usize], seed: u64, config: &ClipConfig) -> Vec<f32> {
    let count = shape.iter().product::<usize>().max(1);
    let constant = |v: f32| vec![v; count];
    if name == "logit_scale" {
        return constant(config.logit_scale_init_value);
    }
    if name.ends_with(".bias") {
        return constant(0.0);
    }
    let is_norm = ["layer_norm", "layernorm", "layrnorm"]
        .iter()
        .any(|n| name.contains(n));
    if is_norm {
        return constant(1.0);
    }
    if name == "vision_model.embeddings.position_embedding.weight" {
        return grid_positions(&config.vision_config);
    }
    // The class token starts empty (its input to the first LayerNorm is
    // zero, and so is the LayerNorm's output), so all it ends up holding is
    // what it gathers from the patches. Under transformers' random class
    // embedding it is one and the same vector for every image, outweighs
    // what attention adds, and every image embeds nearly alike (cosine
    // 0.97 between sketches), which stalls training from scratch.
    if name == "vision_model.embeddings.class_embedding" {
        return constant(0.0);
    }
    let (hidden, layers) = if name.starts_with("vision_model") || name == "visual_projection.weight"
    {
        let v = &config.vision_config;
        (v.hidden_size as f32, v.num_hidden_layers as f32)
    } else {
        let t = &config.text_config;
        (t.hidden_size as f32, t.num_hidden_layers as f32)
    };
    let in_proj = hidden.powf(-0.5) * (2.0 * layers).powf(-0.5);
    let std = if name.contains("q_proj") || name.contains("k_proj") {
        in_proj * QUERY_KEY_GAIN
    } else if name.contains("v_proj") || name.contains("fc2") {
        in_proj
    } else if name.contains("out_proj") || name.contains("projection") {
        hidden.powf(-0.5)
    } else if name.contains("fc1") {
        (2.0 * hidden).powf(-0.5)
    } else if name.contains("patch_embedding") {
        INITIALIZER_RANGE * PATCH_GAIN
    } else {
        // Token and text position embeddings.
        INITIALIZER_RANGE
    };
    let mut rng = Rng::for_name(seed, name);
    (0..count).map(|_| rng.normal() * std).collect()
}

/// Initial patch positions for training from scratch: a 2-D sine-cosine
/// pattern over the patch grid, about as strong as a patch's own embedding,
/// so that patch tokens know where they are from the first step (under
/// transformers' N(0, 0.02) the position is a few percent of each token).
/// The class token's row is zero, like its embedding (see [`initial_values`]).
fn grid_positions(v: &crate::config::VisionConfig) -> Vec<f32> {
    const AMPLITUDE: f32 = 0.7;
    let (hidden, side) = (v.hidden_size, v.image_size / v.patch_size);
    let mut values = vec![0.0; hidden];
    // A quarter of the channels each: sin and cos of the row, of the column.
    let quarter = (hidden / 4).max(1);
    for patch in 0..side * side {
        let (row, col) = ((patch / side) as f32, (patch % side) as f32);
        values.extend((0..hidden).map(|c| {
            let (axis, part, k) = (c / (2 * quarter), (c / quarter) % 2, c % quarter);
            let frequency = 1.0 / 100f32.powf(k as f32 / quarter as f32);
            let angle = if axis == 0 { row } else { col } * frequency;
            if c >= 4 * quarter {
                0.0
            } else if part == 0 {
                AMPLITUDE * angle.sin()
            } else {
                AMPLITUDE * angle.cos()
            }
        }));
    }
    values
}

/// Queries and keys start this many times larger than transformers makes
/// them. At transformers' scale every token attends almost evenly to every
/// other, so a class token is a plain average, a drawing and its caption
/// both come out nearly the same whatever they show, and a small model
/// trained from scratch collapses to one embedding for everything instead of
/// learning (seen on two-shape drawings: the loss never left ln(batch)).
/// Sharper attention from the start keeps inputs apart.
const QUERY_KEY_GAIN: f32 = 5.0;

/// Patch embeddings start this many times larger than transformers makes
/// them, so that what a patch shows outweighs where it is (the sine-cosine
/// positions) in the tokens the first LayerNorm sees.
const PATCH_GAIN: f32 = 1.5;

/// transformers' `initializer_range` for CLIP.
const INITIALIZER_RANGE: f32 = 0.02;
