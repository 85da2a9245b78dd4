//! LayerNorm (torch's `nn.LayerNorm` with its affine shift), run by our
//! fused kernel on wgpu and by Burn's op elsewhere.

use burn::module::{Module, Param};
use burn::tensor::Tensor;

use crate::kernels::layer_norm::{NormWeights, add_layer_norm, layer_norm};

#[derive(Module, Debug)]
pub struct LayerNorm {
    pub gamma: Param<Tensor<1>>,
    pub beta: Param<Tensor<1>>,
    #[module(skip)]
    pub epsilon: f64,
}

impl LayerNorm {
    fn weights(&self) -> NormWeights {
        NormWeights {
            gamma: self.gamma.val(),
            beta: self.beta.val(),
            epsilon: self.epsilon,
        }
    }

    /// Normalizes over the last dimension.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        layer_norm(x, &self.weights())
    }

    /// A residual connection and this norm after it: returns
    /// `residual + (delta + bias)` and its normalized form, in one dispatch
    /// on wgpu.
    pub fn forward_added<const D: usize>(
        &self,
        residual: Tensor<D>,
        delta: Tensor<D>,
        bias: Option<Tensor<1>>,
    ) -> (Tensor<D>, Tensor<D>) {
        add_layer_norm(residual, delta, bias, &self.weights())
    }
}
