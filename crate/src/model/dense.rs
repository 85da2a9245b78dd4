//! A linear layer `x · W + b` (torch's `nn.Linear`).

use std::sync::Arc;

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::activation::{gelu, sigmoid};
use burn::tensor::{Tensor, TensorData};

use crate::config::Activation;
use crate::kernels::linear::linear;
use crate::kernels::packed_matmul::{PackedMatrix, Then};

/// Burn's `Linear` parameters on the GPU (run by our kernel) and in
/// training; for inference on the CPU, the weights packed once for
/// [`PackedMatrix`], which is several times faster there (and then Burn
/// holds no copy of them).
#[derive(Module, Debug)]
pub struct Dense {
    linear: Option<Linear>,
    #[module(skip)]
    packed: Option<Arc<PackedMatrix>>,
}

impl Dense {
    pub fn from_linear(linear: Linear) -> Self {
        Self {
            linear: Some(linear),
            packed: None,
        }
    }

    pub fn from_packed(packed: PackedMatrix) -> Self {
        Self {
            linear: None,
            packed: Some(Arc::new(packed)),
        }
    }

    /// `x`: `[.., inputs]` to `[.., outputs]`.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        self.forward_then(x, Then::Nothing)
    }

    /// [`Dense::forward`] then `activation`, which the matmul applies to each
    /// tile as it leaves the registers (the packed one on the CPU, our
    /// kernel on wgpu).
    pub fn forward_activated<const D: usize>(
        &self,
        x: Tensor<D>,
        activation: Activation,
    ) -> Tensor<D> {
        match (activation, &self.packed) {
            (Activation::QuickGelu, Some(_)) => self.forward_then(x, Then::QuickGelu),
            (_, None) => {
                let layer = self.linear.as_ref().expect("unpacked layers are Burn's");
                apply(layer, x, true, Some(activation))
            }
            _ => activation.forward(self.forward(x)),
        }
    }

    /// `x · W` and the bias still to add, for a caller that adds it together
    /// with what follows (a residual and LayerNorm) in one dispatch. The
    /// packed matmul has added it already (`None`).
    pub fn forward_unbiased<const D: usize>(&self, x: Tensor<D>) -> (Tensor<D>, Option<Tensor<1>>) {
        match &self.linear {
            Some(layer) => (
                apply(layer, x, false, None),
                layer.bias.as_ref().map(|bias| bias.val()),
            ),
            None => (self.forward(x), None),
        }
    }

    fn forward_then<const D: usize>(&self, x: Tensor<D>, then: Then) -> Tensor<D> {
        match (&self.linear, &self.packed) {
            (Some(layer), _) => {
                assert_eq!(then, Then::Nothing, "only the packed path fuses");
                apply(layer, x, true, None)
            }
            (None, Some(packed)) => {
                let [y] = packed_forward([packed], x, then);
                y
            }
            (None, None) => unreachable!("both constructors give weights"),
        }
    }

    /// [`Dense::forward`] of several layers on the same `x` (a layer's
    /// queries, keys and values): one pass of the packed matmul when all
    /// are packed.
    pub fn forward_each<const N: usize, const D: usize>(
        layers: [&Dense; N],
        x: Tensor<D>,
    ) -> [Tensor<D>; N] {
        match layers
            .iter()
            .map(|l| l.packed.as_deref())
            .collect::<Option<Vec<_>>>()
        {
            Some(packed) => {
                let packed: [&PackedMatrix; N] = packed.try_into().expect("N layers");
                packed_forward(packed, x, Then::Nothing)
            }
            None => layers.map(|layer| layer.forward(x.clone())),
        }
    }
}

/// `activation(x · W [+ b])` with Burn's `layer` (our kernel on wgpu).
fn apply<const D: usize>(
    layer: &Linear,
    x: Tensor<D>,
    with_bias: bool,
    activation: Option<Activation>,
) -> Tensor<D> {
    let bias = layer
        .bias
        .as_ref()
        .filter(|_| with_bias)
        .map(|bias| bias.val());
    linear(x, layer.weight.val(), bias, activation)
}

/// The packed matmul on a CPU tensor's values.
fn packed_forward<const N: usize, const D: usize>(
    packed: [&PackedMatrix; N],
    x: Tensor<D>,
    then: Then,
) -> [Tensor<D>; N] {
    let device = x.device();
    let dims = x.dims();
    let values = x
        .into_data()
        .try_into_vec::<f32>()
        .expect("the CPU computes in f32");
    let outs = PackedMatrix::apply_each(packed, &values, then);
    let mut i = 0;
    outs.map(|out| {
        let mut dims = dims;
        dims[D - 1] = packed[i].outputs();
        i += 1;
        Tensor::from_data(TensorData::new(out, dims), &device)
    })
}

impl Activation {
    /// The activation with Burn's ops (any device, and with gradients).
    pub fn forward<const D: usize>(self, h: Tensor<D>) -> Tensor<D> {
        match self {
            Activation::QuickGelu => h.clone() * sigmoid(h.mul_scalar(1.702)),
            Activation::Gelu => gelu(h),
        }
    }
}
