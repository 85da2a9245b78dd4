//! Builds [`Clip`] from a `model.safetensors` in the Hugging Face layout. Every
//! Hugging Face tensor name, and every layout change between theirs and ours,
//! lives in this file.

use burn::module::{Param, ParamId};
use burn::nn::{Embedding, LayerNorm, LayerNormConfig, Linear};
use burn::tensor::{Device, Tensor, TensorData};
use safetensors::{Dtype, SafeTensors};

use crate::clip::Clip;
use crate::config::{Activation, ClipConfig, TextConfig, VisionConfig};
use crate::encoder::{EncoderLayer, Mlp, SelfAttention};
use crate::error::{Error, Result};
use crate::text::TextTransformer;
use crate::vision::{VisionEmbeddings, VisionTransformer};

/// Reads a `model.safetensors` buffer; `file` names it in errors.
pub fn load_clip(bytes: &[u8], file: &str, config: &ClipConfig, device: &Device) -> Result<Clip> {
    let weights = Weights::parse(bytes, file, device)?;
    weights.clip(config)
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

struct Weights<'a> {
    tensors: SafeTensors<'a>,
    file: &'a str,
    device: &'a Device,
}

impl<'a> Weights<'a> {
    fn parse(bytes: &'a [u8], file: &'a str, device: &'a Device) -> Result<Self> {
        let tensors = SafeTensors::deserialize(bytes).map_err(|e| Error::Weights {
            file: file.into(),
            message: format!("not a complete safetensors file ({e}); re-download it"),
        })?;
        Ok(Self {
            tensors,
            file,
            device,
        })
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
        let view = self
            .tensors
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
        Ok(Param::initialized(
            ParamId::new(),
            self.tensor(name, shape)?,
        ))
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
        let weight = self.values(name, stored)?;
        let mut transposed = vec![0.0f32; weight.len()];
        for o in 0..d_out {
            for i in 0..d_in {
                transposed[i * d_out + o] = weight[o * d_in + i];
            }
        }
        let weight = Tensor::from_data(TensorData::new(transposed, [d_in, d_out]), self.device);
        Ok(Param::initialized(ParamId::new(), weight))
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
            logit_scale: self.param("logit_scale", [1])?,
        })
    }
}
