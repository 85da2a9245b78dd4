//! Launcher of `shaders/softmax.wgsl`: softmax over the last dimension.

use burn::backend::wgpu::{KernelSource, SourceKernel, SourceTemplate, Wgpu};
use burn::cubecl::prelude::KernelId;
use burn::cubecl::server::KernelArguments;
use burn::cubecl::{CubeCount, CubeDim};
use burn::tensor::Tensor;

use super::{
    REDUCE_SOURCE, count_launch, empty_like, grid, kernel_params, register_reduce, use_subgroups,
    wgpu_f32,
};

const WORKGROUP_SIZE: u32 = 64;
const SOURCE: &str = include_str!("../../../shaders/softmax.wgsl");

kernel_params!(SoftmaxParams {
    rows: u32,
    cols: u32
});

struct SoftmaxKernel {
    /// Reduce with subgroup operations (the adapter has subgroups).
    subgroups: bool,
}

impl KernelSource for SoftmaxKernel {
    fn source(&self) -> SourceTemplate {
        register_reduce(SourceTemplate::new(SOURCE), self.subgroups)
            .register("params", SoftmaxParams::WGSL)
            .register("workgroup_size", WORKGROUP_SIZE.to_string())
    }

    fn id(&self) -> KernelId {
        // The text is part of the id so an edited shader is never served stale.
        KernelId::new::<Self>().info((WORKGROUP_SIZE, self.subgroups, SOURCE, REDUCE_SOURCE))
    }

    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

/// Softmax over the last dimension. Rows whose values are all at or below
/// -1e30 (entirely masked) give zeros on wgpu; Burn's op gives NaN there.
pub fn softmax_last_dim<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let Some(input) = wgpu_f32(&x) else {
        return burn::tensor::activation::softmax(x, D - 1);
    };
    let shape = input.meta.shape().to_vec();
    let cols = *shape.last().unwrap_or(&1);
    let rows = shape.iter().product::<usize>() / cols.max(1);
    let output = empty_like(&input, shape);
    if rows == 0 || cols == 0 {
        return Tensor::from_primitive::<Wgpu>(output);
    }
    let params = SoftmaxParams {
        rows: rows as u32,
        cols: cols as u32,
    }
    .buffer(&input);
    let (x_groups, y_groups) = grid(rows);
    let subgroups = use_subgroups();
    input.client.launch(
        Box::new(SourceKernel::new(
            SoftmaxKernel { subgroups },
            CubeDim::new_1d(WORKGROUP_SIZE),
        )),
        CubeCount::Static(x_groups, y_groups, 1),
        KernelArguments::new()
            .with_buffer(input.handle.clone().binding())
            .with_buffer(output.handle.clone().binding())
            .with_buffer(params.binding()),
    );
    count_launch(|l| {
        l.softmax += 1;
        l.softmax_subgroups += subgroups as usize;
    });
    Tensor::from_primitive::<Wgpu>(output)
}
