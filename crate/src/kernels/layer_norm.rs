//! Launcher of `shaders/layer_norm.wgsl`: LayerNorm over the last dimension,
//! alone or fused with the residual addition before it.

use burn::backend::wgpu::{CubeTensor, KernelSource, SourceKernel, SourceTemplate, Wgpu};
use burn::cubecl::prelude::KernelId;
use burn::cubecl::server::KernelArguments;
use burn::cubecl::{CubeCount, CubeDim};
use burn::tensor::Tensor;
use burn::tensor::module::layer_norm as burn_layer_norm;

use super::{
    REDUCE_SOURCE, count_launch, empty_like, grid, kernel_params, register_reduce, use_subgroups,
    wgpu_f32, without_section,
};

const WORKGROUP_SIZE: u32 = 64;
const SOURCE: &str = include_str!("../../../shaders/layer_norm.wgsl");

kernel_params!(LayerNormParams {
    rows: u32,
    cols: u32,
    epsilon: f32,
});

/// A LayerNorm's learned scale and shift, and its epsilon.
#[derive(Clone, Debug)]
pub struct NormWeights {
    pub gamma: Tensor<1>,
    pub beta: Tensor<1>,
    pub epsilon: f64,
}

struct LayerNormKernel {
    /// The `add` variant (residual + delta + bias first) or `plain`.
    add: bool,
    subgroups: bool,
}

impl KernelSource for LayerNormKernel {
    fn source(&self) -> SourceTemplate {
        let other = if self.add { "plain" } else { "add" };
        register_reduce(
            SourceTemplate::new(without_section(SOURCE, other)),
            self.subgroups,
        )
        .register("params", LayerNormParams::WGSL)
        .register("workgroup_size", WORKGROUP_SIZE.to_string())
    }

    fn id(&self) -> KernelId {
        KernelId::new::<Self>().info((
            WORKGROUP_SIZE,
            self.add,
            self.subgroups,
            SOURCE,
            REDUCE_SOURCE,
        ))
    }

    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

/// LayerNorm of `x` over its last dimension.
pub fn layer_norm<const D: usize>(x: Tensor<D>, norm: &NormWeights) -> Tensor<D> {
    let fused = || {
        let input = wgpu_f32(&x)?;
        let [normed] = launch(&[&input], norm, false)?;
        Some(normed)
    };
    match fused() {
        Some(normed) => Tensor::from_primitive::<Wgpu>(normed),
        None => burn_layer_norm(x, norm.gamma.clone(), Some(norm.beta.clone()), norm.epsilon),
    }
}

/// A residual connection and the LayerNorm after it: returns
/// `sum = residual + (delta + bias)` and `LayerNorm(sum)`.
pub fn add_layer_norm<const D: usize>(
    residual: Tensor<D>,
    delta: Tensor<D>,
    bias: Option<Tensor<1>>,
    norm: &NormWeights,
) -> (Tensor<D>, Tensor<D>) {
    let fused = || {
        let (residual, delta) = (wgpu_f32(&residual)?, wgpu_f32(&delta)?);
        let bias = match &bias {
            Some(bias) => wgpu_f32(bias)?,
            None => wgpu_f32(&norm.beta.zeros_like())?,
        };
        let [sum, normed] = launch(&[&residual, &delta, &bias], norm, true)?;
        Some((sum, normed))
    };
    if let Some((sum, normed)) = fused() {
        return (
            Tensor::from_primitive::<Wgpu>(sum),
            Tensor::from_primitive::<Wgpu>(normed),
        );
    }
    let delta = match bias {
        Some(bias) => delta + bias.unsqueeze(),
        None => delta,
    };
    let sum = residual + delta;
    (sum.clone(), layer_norm(sum, norm))
}

/// Runs the kernel on `inputs` (`[input]`, or `[residual, delta, bias]` for
/// the `add` variant); returns its outputs (`[normed]`, or `[sum, normed]`).
fn launch<const N: usize>(
    inputs: &[&CubeTensor],
    norm: &NormWeights,
    add: bool,
) -> Option<[CubeTensor; N]> {
    let (gamma, beta) = (wgpu_f32(&norm.gamma)?, wgpu_f32(&norm.beta)?);
    let first = inputs[0];
    let shape = first.meta.shape().to_vec();
    let cols = *shape.last()?;
    if cols != gamma.meta.shape()[0] {
        return None;
    }
    let rows = shape.iter().product::<usize>() / cols.max(1);
    let outputs: [CubeTensor; N] = std::array::from_fn(|_| empty_like(first, shape.clone()));
    if rows == 0 || cols == 0 {
        return Some(outputs);
    }
    let params = LayerNormParams {
        rows: rows as u32,
        cols: cols as u32,
        epsilon: norm.epsilon as f32,
    }
    .buffer(first);
    let mut arguments = KernelArguments::new();
    for tensor in inputs
        .iter()
        .copied()
        .chain([&gamma, &beta])
        .chain(&outputs)
    {
        arguments = arguments.with_buffer(tensor.handle.clone().binding());
    }
    let (x_groups, y_groups) = grid(rows);
    first.client.launch(
        Box::new(SourceKernel::new(
            LayerNormKernel {
                add,
                subgroups: use_subgroups(),
            },
            CubeDim::new_1d(WORKGROUP_SIZE),
        )),
        CubeCount::Static(x_groups, y_groups, 1),
        arguments.with_buffer(params.binding()),
    );
    count_launch(|l| l.layer_norm += 1);
    Some(outputs)
}
