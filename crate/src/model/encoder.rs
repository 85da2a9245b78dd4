//! The pre-LayerNorm transformer block both CLIP encoders are made of.

use burn::module::Module;
use burn::nn::LayerNorm;
use burn::tensor::Tensor;

use super::attention::{Mask, scaled_dot_product_attention};
use super::dense::Dense;
use crate::config::Activation;

#[derive(Module, Debug)]
pub struct SelfAttention {
    pub q_proj: Dense,
    pub k_proj: Dense,
    pub v_proj: Dense,
    pub out_proj: Dense,
    pub num_heads: usize,
}

impl SelfAttention {
    /// `x`: `[batch, tokens, hidden]`.
    pub fn forward(&self, x: Tensor<3>, mask: Mask) -> Tensor<3> {
        let [batch, tokens, hidden] = x.dims();
        let heads =
            |t: Tensor<3>| t.reshape([batch, tokens, self.num_heads, hidden / self.num_heads]);
        let [q, k, v] = Dense::forward_each([&self.q_proj, &self.k_proj, &self.v_proj], x);
        let (q, k, v) = (heads(q), heads(k), heads(v));
        let context = scaled_dot_product_attention(q, k, v, mask).reshape([batch, tokens, hidden]);
        self.out_proj.forward(context)
    }
}

#[derive(Module, Debug)]
pub struct Mlp {
    pub fc1: Dense,
    pub fc2: Dense,
    #[module(skip)]
    pub activation: Activation,
}

impl Mlp {
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let h = self.fc1.forward_activated(x, self.activation);
        self.fc2.forward(h)
    }
}

#[derive(Module, Debug)]
pub struct EncoderLayer {
    pub layer_norm1: LayerNorm,
    pub self_attn: SelfAttention,
    pub layer_norm2: LayerNorm,
    pub mlp: Mlp,
}

impl EncoderLayer {
    pub fn forward(&self, x: Tensor<3>, mask: Mask) -> Tensor<3> {
        let x = x.clone() + self.self_attn.forward(self.layer_norm1.forward(x), mask);
        x.clone() + self.mlp.forward(self.layer_norm2.forward(x))
    }
}

/// A tower's stack of blocks (`*.encoder.layers.N` in the weights).
#[derive(Module, Debug)]
pub struct Encoder {
    pub layers: Vec<EncoderLayer>,
}

impl Encoder {
    /// Runs the blocks in order.
    pub fn forward(&self, mut x: Tensor<3>, mask: Mask) -> Tensor<3> {
        for layer in &self.layers {
            x = layer.forward(x, mask);
        }
        x
    }
}
