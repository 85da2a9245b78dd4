//! The pre-LayerNorm transformer block both CLIP encoders are made of.

use burn::module::Module;
use burn::tensor::Tensor;

use super::attention::{Mask, joint_self_attention, scaled_dot_product_attention};
use super::dense::Dense;
use super::norm::LayerNorm;
use crate::config::Activation;

#[derive(Module, Debug)]
pub struct SelfAttention {
    pub projections: Projections,
    pub out_proj: Dense,
    pub num_heads: usize,
}

/// Queries, keys and values from a block's input.
// One per block, so the variants' sizes do not matter; Burn's modules
// cannot be boxed.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Projections {
    /// Three layers (`q_proj`, `k_proj`, `v_proj`): for training, and on the
    /// CPU, whose packed matmul runs them in one pass anyway.
    Separate(SeparateProjections),
    /// The three as one layer of three times the width (inference on a GPU):
    /// one matmul, whose product the attention kernel reads in place and
    /// adds the bias to.
    Joint(Dense),
}

#[derive(Module, Debug)]
pub struct SeparateProjections {
    pub q_proj: Dense,
    pub k_proj: Dense,
    pub v_proj: Dense,
}

impl SelfAttention {
    /// `x`: `[batch, tokens, hidden]`. Returns the output projection's
    /// product and the bias still to add to it (see
    /// [`Dense::forward_unbiased`]).
    pub fn forward(&self, x: Tensor<3>, mask: Mask) -> (Tensor<3>, Option<Tensor<1>>) {
        let [batch, tokens, hidden] = x.dims();
        let context = match &self.projections {
            Projections::Separate(p) => {
                let heads = |t: Tensor<3>| {
                    t.reshape([batch, tokens, self.num_heads, hidden / self.num_heads])
                };
                let [q, k, v] = Dense::forward_each([&p.q_proj, &p.k_proj, &p.v_proj], x);
                scaled_dot_product_attention(heads(q), heads(k), heads(v), mask)
            }
            Projections::Joint(qkv) => {
                let (product, bias) = qkv.forward_unbiased(x);
                joint_self_attention(product, bias, self.num_heads, mask)
            }
        };
        self.out_proj
            .forward_unbiased(context.reshape([batch, tokens, hidden]))
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
    /// Like [`SelfAttention::forward`], the last bias is left to the caller.
    pub fn forward(&self, x: Tensor<3>) -> (Tensor<3>, Option<Tensor<1>>) {
        let h = self.fc1.forward_activated(x, self.activation);
        self.fc2.forward_unbiased(h)
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
    /// `x + attention(norm1(x))`, then `+ mlp(norm2(·))`, given `x` and
    /// `norm1(x)`; `next` is the norm that follows the block (the next
    /// block's first, or the tower's last). Returns the block's output and
    /// `next` of it: each residual addition and the norm after it are one
    /// fused step (one dispatch on wgpu).
    pub fn forward(
        &self,
        x: Tensor<3>,
        normed: Tensor<3>,
        mask: Mask,
        next: &LayerNorm,
    ) -> (Tensor<3>, Tensor<3>) {
        let (attended, bias) = self.self_attn.forward(normed, mask);
        let (x, normed) = self.layer_norm2.forward_added(x, attended, bias);
        let (transformed, bias) = self.mlp.forward(normed);
        next.forward_added(x, transformed, bias)
    }
}

/// A tower's stack of blocks (`*.encoder.layers.N` in the weights).
#[derive(Module, Debug)]
pub struct Encoder {
    pub layers: Vec<EncoderLayer>,
}

impl Encoder {
    /// Runs the blocks in order and returns `last_norm` of the final state.
    pub fn forward(&self, x: Tensor<3>, mask: Mask, last_norm: &LayerNorm) -> Tensor<3> {
        let Some(first) = self.layers.first() else {
            return last_norm.forward(x);
        };
        let mut state = (x.clone(), first.layer_norm1.forward(x));
        for (i, layer) in self.layers.iter().enumerate() {
            let next = self
                .layers
                .get(i + 1)
                .map_or(last_norm, |next| &next.layer_norm1);
            let (x, normed) = state;
            state = layer.forward(x, normed, mask, next);
        }
        state.1
    }
}
