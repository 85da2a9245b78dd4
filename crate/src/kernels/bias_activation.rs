//! Launcher of `shaders/bias_activation.wgsl`: a linear layer's bias and
//! activation on the matmul's product, in one dispatch.

use burn::backend::wgpu::{KernelSource, SourceKernel, SourceTemplate, Wgpu};
use burn::cubecl::prelude::KernelId;
use burn::cubecl::server::KernelArguments;
use burn::cubecl::{CubeCount, CubeDim};
use burn::tensor::Tensor;

use super::{count_launch, empty_like, grid, kernel_params, wgpu_f32};
use crate::config::Activation;

const WORKGROUP_SIZE: u32 = 64;
const SOURCE: &str = include_str!("../../../shaders/bias_activation.wgsl");

kernel_params!(BiasParams {
    count: u32,
    cols: u32
});

struct BiasActivationKernel {
    /// The WGSL expression of `h` the output is.
    activation: &'static str,
}

impl KernelSource for BiasActivationKernel {
    fn source(&self) -> SourceTemplate {
        SourceTemplate::new(SOURCE)
            .register("params", BiasParams::WGSL)
            .register("workgroup_size", WORKGROUP_SIZE.to_string())
            .register("activation", self.activation)
    }

    fn id(&self) -> KernelId {
        KernelId::new::<Self>().info((WORKGROUP_SIZE, self.activation, SOURCE))
    }

    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

/// `activation(y + bias)`, the bias broadcast over `y`'s last dimension.
pub fn bias_activation<const D: usize>(
    y: Tensor<D>,
    bias: Option<Tensor<1>>,
    activation: Option<Activation>,
) -> Tensor<D> {
    if let Some(fused) = bias.as_ref().and_then(|bias| fused(&y, bias, activation)) {
        return fused;
    }
    let h = match bias {
        Some(bias) => y + bias.unsqueeze(),
        None => y,
    };
    match activation {
        Some(activation) => activation.forward(h),
        None => h,
    }
}

/// The kernel, where it applies (f32 wgpu tensors, an activation it has).
fn fused<const D: usize>(
    y: &Tensor<D>,
    bias: &Tensor<1>,
    activation: Option<Activation>,
) -> Option<Tensor<D>> {
    let activation = match activation {
        None => "h",
        Some(Activation::QuickGelu) => "quick_gelu(h)",
        // Exact GELU needs erf, which WGSL lacks: Burn's ops do it.
        Some(Activation::Gelu) => return None,
    };
    let (input, bias) = (wgpu_f32(y)?, wgpu_f32(bias)?);
    let shape = input.meta.shape().to_vec();
    let cols = *shape.last()?;
    let count: usize = shape.iter().product();
    if cols != bias.meta.shape()[0] || count > u32::MAX as usize {
        return None;
    }
    let output = empty_like(&input, shape);
    if count == 0 {
        return Some(Tensor::from_primitive::<Wgpu>(output));
    }
    let params = BiasParams {
        count: count as u32,
        cols: cols as u32,
    }
    .buffer(&input);
    let (x_groups, y_groups) = grid(count.div_ceil(WORKGROUP_SIZE as usize));
    input.client.launch(
        Box::new(SourceKernel::new(
            BiasActivationKernel { activation },
            CubeDim::new_1d(WORKGROUP_SIZE),
        )),
        CubeCount::Static(x_groups, y_groups, 1),
        KernelArguments::new()
            .with_buffer(input.handle.clone().binding())
            .with_buffer(bias.handle.clone().binding())
            .with_buffer(output.handle.clone().binding())
            .with_buffer(params.binding()),
    );
    count_launch(|l| l.bias_activation += 1);
    Some(Tensor::from_primitive::<Wgpu>(output))
}
