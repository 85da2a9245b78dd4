//! A linear layer `x · W + b` (torch's `nn.Linear`).

use std::sync::Arc;

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{Tensor, TensorData};

use crate::kernels::packed_matmul::PackedMatrix;

/// Burn's `Linear` on the GPU and in training; for inference on the CPU, the
/// weights packed once for [`PackedMatrix`], which is several times faster
/// there (and then Burn holds no copy of them).
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
        match (&self.linear, &self.packed) {
            (Some(linear), _) => linear.forward(x),
            (None, Some(packed)) => {
                let device = x.device();
                let mut dims = x.dims();
                let values = x
                    .into_data()
                    .try_into_vec::<f32>()
                    .expect("the CPU computes in f32");
                dims[D - 1] = packed.outputs();
                Tensor::from_data(TensorData::new(packed.apply(&values), dims), &device)
            }
            (None, None) => unreachable!("both constructors give weights"),
        }
    }
}
