//! Builds [`Clip`] from a `model.safetensors` in the Hugging Face layout (or
//! from values a function gives by tensor name, for a fresh initialisation)
//! and writes it back in that layout. Every Hugging Face tensor name, and
//! every layout change between theirs and ours, lives in this file; most
//! names follow from the modules' nesting.

use std::cell::RefCell;
use std::collections::HashMap;

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::nn::{Embedding, Linear};
use burn::tensor::{Device, Tensor, TensorData};
use safetensors::Dtype;
use safetensors::tensor::TensorView;

use super::Clip;
use super::dense::Dense;
use super::encoder::{Encoder, EncoderLayer, Mlp, Projections, SelfAttention, SeparateProjections};
use super::norm::LayerNorm;
use super::safetensors::{WeightBytes, WeightFile};
use super::text::{TextEmbeddings, TextTransformer};
use super::vision::{VisionEmbeddings, VisionTransformer};
use crate::config::{ClipConfig, EncoderConfig, TextConfig, VisionConfig};
use crate::device::is_cpu_inference;
use crate::error::{Error, Result};
use crate::kernels::linear::kernel_weight;
use crate::kernels::packed_matmul::PackedMatrix;
use crate::rng::fnv1a;

/// Reads a `model.safetensors` buffer for inference; `file` names it in
/// errors. On the CPU the linear layers come packed for our own matmul; on a
/// GPU each block's query, key and value layers come joined.
pub fn load_clip(
    bytes: &dyn WeightBytes,
    file: &str,
    config: &ClipConfig,
    device: &Device,
) -> Result<Clip> {
    Store::new(
        read_file(bytes, file)?,
        file,
        device,
        Layers::inference(device),
    )
    .build(config)
    .map(|(clip, _)| clip)
}

/// How the linear layers are held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layers {
    /// Every weight a Burn parameter, recorded by name: to train or save.
    Params,
    /// Packed for our matmul (inference on the CPU).
    Packed,
    /// Burn tensors, each block's query, key and value layers joined into
    /// one, the matrices in f16 where the GPU has shader-f16 (inference on a
    /// GPU).
    Joined,
}

impl Layers {
    fn inference(device: &Device) -> Self {
        match is_cpu_inference(device) {
            true => Layers::Packed,
            false => Layers::Joined,
        }
    }
}

/// [`load_clip`] with every weight a Burn parameter (none packed), also
/// returning where each is stored in the file: a model to train or save.
pub fn load_clip_with_params(
    bytes: &dyn WeightBytes,
    file: &str,
    config: &ClipConfig,
    device: &Device,
) -> Result<(Clip, StoredParams)> {
    Store::new(read_file(bytes, file)?, file, device, Layers::Params).build(config)
}

fn read_file<'a>(bytes: &'a dyn WeightBytes, file: &str) -> Result<Source<'a>> {
    let tensors = WeightFile::open(bytes).map_err(|why| Error::Weights {
        file: file.into(),
        message: format!("not a complete safetensors file ({why}); re-download it"),
    })?;
    Ok(Source::File(tensors))
}

/// Values of a tensor by its Hugging Face name and stored shape.
pub type ValuesByName<'a> = &'a dyn Fn(&str, &[usize]) -> Vec<f32>;

/// A CLIP whose every tensor comes from `values` (a fresh initialisation).
/// `for_inference`: packed for our matmul on the CPU, as [`load_clip`] builds
/// it (not trainable); otherwise every weight is a Burn parameter.
pub fn build_clip(
    config: &ClipConfig,
    values: ValuesByName,
    device: &Device,
    for_inference: bool,
) -> Result<(Clip, StoredParams)> {
    let layers = match for_inference {
        true => Layers::inference(device),
        false => Layers::Params,
    };
    Store::new(Source::Values(values), "initial weights", device, layers).build(config)
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
pub type StoredParams = Vec<StoredParam>;

/// The precision of a written `model.safetensors`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaveDtype {
    F32,
    F16,
}

/// `clip`'s parameters as a `model.safetensors` in the Hugging Face layout.
pub fn save_clip(clip: &Clip, params: &StoredParams, dtype: SaveDtype) -> Result<Vec<u8>> {
    let mut values = ParamValues::default();
    clip.visit(&mut values);
    let mut buffers = Vec::with_capacity(params.len());
    for stored in params {
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
        self.0.insert(param.id, param_values(param));
    }
}

/// A float parameter's values as f32, row-major.
pub fn param_values<const D: usize>(param: &Param<Tensor<D>>) -> Vec<f32> {
    param
        .val()
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("converted to f32")
}

/// Where the values come from; both are asked by Hugging Face name.
enum Source<'a> {
    File(WeightFile<'a>),
    Values(ValuesByName<'a>),
}

/// What every scope shares: the source, and the parameters built so far.
struct Store<'a> {
    source: Source<'a>,
    file: &'a str,
    device: &'a Device,
    layers: Layers,
    params: RefCell<StoredParams>,
}

/// The tensors under one name prefix (`vision_model.encoder`, ...): each
/// module asks for its own names and hands its children a longer prefix.
#[derive(Clone, Copy)]
struct Weights<'s, 'a> {
    store: &'s Store<'a>,
    prefix: &'s str,
}

impl<'a> Store<'a> {
    fn new(source: Source<'a>, file: &'a str, device: &'a Device, layers: Layers) -> Self {
        Self {
            source,
            file,
            device,
            layers,
            params: RefCell::new(Vec::new()),
        }
    }

    fn build(self, config: &ClipConfig) -> Result<(Clip, StoredParams)> {
        let clip = Weights {
            store: &self,
            prefix: "",
        }
        .clip(config)?;
        Ok((clip, self.params.into_inner()))
    }

    /// A parameter named after its tensor, so the same model always has the
    /// same ids (optimizer state saved with a checkpoint finds them again).
    fn record(&self, name: &str, shape: &[usize], transposed: bool) -> ParamId {
        let id = ParamId::from(fnv1a(name.as_bytes()));
        self.params.borrow_mut().push(StoredParam {
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
            Source::Values(values) => return Ok(values(name, shape)),
        };
        let view = tensors
            .tensor(name)
            .ok_or_else(|| self.error(name, "is missing".into()))?;
        let found = view.shape;
        let scalar_ok = found.is_empty() && shape == [1];
        if found != shape && !scalar_ok {
            return Err(self.error(name, format!("has shape {found:?}, expected {shape:?}")));
        }
        let data = &view.data;
        let values: Vec<f32> = match view.dtype {
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
        if let Some(at) = values.iter().position(|v| !v.is_finite()) {
            let message = format!("holds {} at index {at}: the file is damaged", values[at]);
            return Err(self.error(name, message));
        }
        Ok(values)
    }
}

impl<'s, 'a> Weights<'s, 'a> {
    /// Runs `build` on the tensors under `name` (relative to this scope).
    fn at<T>(&self, name: impl std::fmt::Display, build: impl FnOnce(Weights) -> T) -> T {
        let prefix = self.name(&name.to_string());
        build(Weights {
            store: self.store,
            prefix: &prefix,
        })
    }

    /// The full name of this scope's tensor `name`.
    fn name(&self, name: &str) -> String {
        match self.prefix.is_empty() {
            true => name.to_string(),
            false => format!("{}.{name}", self.prefix),
        }
    }

    fn param<const D: usize>(&self, name: &str, shape: [usize; D]) -> Result<Param<Tensor<D>>> {
        self.param_stored_as(name, shape, &shape)
    }

    /// A 0-d tensor in the file, one element here.
    fn scalar(&self, name: &str) -> Result<Param<Tensor<1>>> {
        self.param_stored_as(name, [1], &[])
    }

    /// A parameter held with `shape` and written back with `stored`.
    fn param_stored_as<const D: usize>(
        &self,
        name: &str,
        shape: [usize; D],
        stored: &[usize],
    ) -> Result<Param<Tensor<D>>> {
        let name = self.name(name);
        let values = self.store.values(&name, &shape)?;
        let tensor = Tensor::from_data(TensorData::new(values, shape), self.store.device);
        Ok(Param::initialized(
            self.store.record(&name, stored, false),
            tensor,
        ))
    }

    /// A matrix stored as it is held (`shape`), in f16 on a GPU that has
    /// shader-f16 (see [`kernel_weight`]).
    fn matrix(&self, name: &str, shape: [usize; 2]) -> Result<Param<Tensor<2>>> {
        if self.store.layers != Layers::Joined {
            return self.param(name, shape);
        }
        let name = self.name(name);
        let values = self.store.values(&name, &shape)?;
        Ok(Param::initialized(
            self.store.record(&name, &shape, false),
            kernel_weight(values, shape, self.store.device),
        ))
    }

    /// A torch weight whose `stored` shape flattens to `[d_out, d_in]` (an
    /// `nn.Linear`'s `[out, in]`, or a conv kernel per output channel), and
    /// its bias when `bias` is set: packed for the CPU's matmul, or Burn's
    /// `Linear` (`[d_in, d_out]`).
    fn dense(
        &self,
        name: &str,
        stored: &[usize],
        d_in: usize,
        d_out: usize,
        bias: bool,
    ) -> Result<Dense> {
        let full_name = self.name(name);
        let weight = self.store.values(&full_name, stored)?;
        if self.store.layers == Layers::Packed {
            let bias = match bias {
                true => Some(self.store.values(&self.name("bias"), &[d_out])?),
                false => None,
            };
            return Ok(Dense::from_packed(PackedMatrix::from_out_in(
                &weight, d_out, d_in, bias,
            )));
        }
        let weight = transpose(&weight, d_out, d_in);
        let weight = match self.store.layers {
            Layers::Joined => kernel_weight(weight, [d_in, d_out], self.store.device),
            _ => Tensor::from_data(TensorData::new(weight, [d_in, d_out]), self.store.device),
        };
        let weight = Param::initialized(self.store.record(&full_name, stored, true), weight);
        let bias = match bias {
            true => Some(self.param("bias", [d_out])?),
            false => None,
        };
        Ok(Dense::from_linear(Linear { weight, bias }))
    }

    /// The `q_proj`, `k_proj` and `v_proj` layers (each `hidden` to
    /// `hidden`) as one of three times the width, outputs side by side: their
    /// stored `[out, in]` matrices stacked are its `[3 * hidden, in]` one.
    /// Not recorded: a joined model is for inference, never saved.
    fn joint_qkv(&self, hidden: usize) -> Result<Dense> {
        let (mut weight, mut bias) = (Vec::new(), Vec::new());
        for layer in ["q_proj", "k_proj", "v_proj"] {
            let name = |tensor| self.name(&format!("{layer}.{tensor}"));
            weight.extend(self.store.values(&name("weight"), &[hidden, hidden])?);
            bias.extend(self.store.values(&name("bias"), &[hidden])?);
        }
        let weight = transpose(&weight, 3 * hidden, hidden);
        let device = self.store.device;
        Ok(Dense::from_linear(Linear {
            weight: Param::from_tensor(kernel_weight(weight, [hidden, 3 * hidden], device)),
            bias: Some(Param::from_tensor(Tensor::from_data(
                TensorData::new(bias, [3 * hidden]),
                device,
            ))),
        }))
    }

    /// A torch `nn.Linear` (`weight` is `[out, in]`).
    fn linear(&self, d_in: usize, d_out: usize, bias: bool) -> Result<Dense> {
        self.dense("weight", &[d_out, d_in], d_in, d_out, bias)
    }

    fn layer_norm(&self, dim: usize, eps: f64) -> Result<LayerNorm> {
        Ok(LayerNorm {
            gamma: self.param("weight", [dim])?,
            beta: self.param("bias", [dim])?,
            epsilon: eps,
        })
    }

    fn encoder(&self, c: &EncoderConfig) -> Result<Encoder> {
        let h = c.hidden_size;
        let layer = |w: Weights| -> Result<EncoderLayer> {
            let proj = |name| w.at(format!("self_attn.{name}"), |w| w.linear(h, h, true));
            let projections = match w.store.layers {
                Layers::Joined => Projections::Joint(w.at("self_attn", |w| w.joint_qkv(h))?),
                _ => Projections::Separate(SeparateProjections {
                    q_proj: proj("q_proj")?,
                    k_proj: proj("k_proj")?,
                    v_proj: proj("v_proj")?,
                }),
            };
            Ok(EncoderLayer {
                layer_norm1: w.at("layer_norm1", |w| w.layer_norm(h, c.layer_norm_eps))?,
                self_attn: SelfAttention {
                    projections,
                    out_proj: proj("out_proj")?,
                    num_heads: c.num_attention_heads,
                },
                layer_norm2: w.at("layer_norm2", |w| w.layer_norm(h, c.layer_norm_eps))?,
                mlp: Mlp {
                    fc1: w.at("mlp.fc1", |w| w.linear(h, c.intermediate_size, true))?,
                    fc2: w.at("mlp.fc2", |w| w.linear(c.intermediate_size, h, true))?,
                    activation: c.hidden_act,
                },
            })
        };
        let layers = (0..c.num_hidden_layers)
            .map(|i| self.at(format!("layers.{i}"), layer))
            .collect::<Result<_>>()?;
        Ok(Encoder { layers })
    }

    fn vision(&self, c: &VisionConfig) -> Result<VisionTransformer> {
        let (h, p) = (c.hidden_size, c.patch_size);
        let patch_in = c.num_channels * p * p;
        let embeddings = self.at("embeddings", |w| -> Result<_> {
            // The conv kernel [hidden, channels, p, p] flattened per output
            // channel is exactly the matrix over (channel, row, column)-ordered
            // patches.
            let patch_embedding = w.dense(
                "patch_embedding.weight",
                &[h, c.num_channels, p, p],
                patch_in,
                h,
                false,
            )?;
            Ok(VisionEmbeddings {
                patch_embedding,
                class_embedding: w.param("class_embedding", [h])?,
                position_embedding: w
                    .param("position_embedding.weight", [c.num_patches() + 1, h])?,
                patch_size: p,
            })
        })?;
        Ok(VisionTransformer {
            embeddings,
            // "layrnorm" is the checkpoint's own spelling.
            pre_layernorm: self.at("pre_layrnorm", |w| w.layer_norm(h, c.layer_norm_eps))?,
            encoder: self.at("encoder", |w| w.encoder(&c.encoder()))?,
            post_layernorm: self.at("post_layernorm", |w| w.layer_norm(h, c.layer_norm_eps))?,
        })
    }

    fn text(&self, c: &TextConfig) -> Result<TextTransformer> {
        let h = c.hidden_size;
        let embeddings = self.at("embeddings", |w| -> Result<_> {
            Ok(TextEmbeddings {
                token_embedding: Embedding {
                    weight: w.matrix("token_embedding.weight", [c.vocab_size, h])?,
                },
                position_embedding: w
                    .param("position_embedding.weight", [c.max_position_embeddings, h])?,
            })
        })?;
        Ok(TextTransformer {
            embeddings,
            encoder: self.at("encoder", |w| w.encoder(&c.encoder()))?,
            final_layer_norm: self.at("final_layer_norm", |w| w.layer_norm(h, c.layer_norm_eps))?,
            pooling: c.pooling(),
        })
    }

    fn clip(&self, c: &ClipConfig) -> Result<Clip> {
        let d = c.projection_dim;
        let (vision_hidden, text_hidden) = (c.vision_config.hidden_size, c.text_config.hidden_size);
        Ok(Clip {
            vision_model: self.at("vision_model", |w| w.vision(&c.vision_config))?,
            text_model: self.at("text_model", |w| w.text(&c.text_config))?,
            visual_projection: self
                .at("visual_projection", |w| w.linear(vision_hidden, d, false))?,
            text_projection: self.at("text_projection", |w| w.linear(text_hidden, d, false))?,
            logit_scale: self.scalar("logit_scale")?,
        })
    }
}
