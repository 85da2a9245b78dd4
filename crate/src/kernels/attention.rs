//! Launcher of `shaders/attention.wgsl`: fused scaled-dot-product attention.

use burn::backend::wgpu::{CubeTensor, KernelSource, SourceKernel, SourceTemplate, Wgpu};
use burn::cubecl::prelude::KernelId;
use burn::cubecl::server::KernelArguments;
use burn::cubecl::{CubeCount, CubeDim};
use burn::tensor::Tensor;

use super::{
    count_launch, empty_like, kernel_params, u32_buffer, use_f16, wgpu_f32, without_section,
};

const WORKGROUP_SIZE: u32 = 64;
/// Workgroup memory for the key and value tiles together: WebGPU's baseline
/// limit of 16 KiB, less room for the kernel's shared loop bound.
const TILE_BYTES: usize = 16 * 1024 - 16;
const SOURCE: &str = include_str!("../../../shaders/attention.wgsl");

kernel_params!(AttentionParams {
    batch: u32,
    heads: u32,
    q_len: u32,
    k_len: u32,
    /// 1: query `i` sees keys `0..=i` only.
    causal: u32,
    /// 1: `key_lens` holds each batch entry's count of real keys.
    use_key_lens: u32,
    /// The factor on `q·k`, `head_dim^-0.5`.
    scale: f32,
});

struct AttentionKernel {
    head_dim: usize,
    tile: usize,
    /// Key and value tiles in f16 (the adapter has shader-f16).
    f16: bool,
    /// Queries, keys and values from one joint projection (the `joint`
    /// variant), or three tensors.
    joint: bool,
}

impl AttentionKernel {
    fn new(head_dim: usize, f16: bool, joint: bool) -> Self {
        let element = if f16 { 2 } else { 4 };
        Self {
            head_dim,
            tile: (TILE_BYTES / (2 * head_dim * element)).clamp(1, 64),
            f16,
            joint,
        }
    }
}

impl KernelSource for AttentionKernel {
    fn source(&self) -> SourceTemplate {
        let other = if self.joint { "separate" } else { "joint" };
        SourceTemplate::new(without_section(SOURCE, other))
            .register("enable", if self.f16 { "enable f16;" } else { "" })
            .register("params", AttentionParams::WGSL)
            .register("tile_elem", if self.f16 { "f16" } else { "f32" })
            .register("workgroup_size", WORKGROUP_SIZE.to_string())
            .register("head_dim", self.head_dim.to_string())
            .register("tile", self.tile.to_string())
    }

    fn id(&self) -> KernelId {
        KernelId::new::<Self>().info((
            WORKGROUP_SIZE,
            self.head_dim,
            self.tile,
            self.f16,
            self.joint,
            SOURCE,
        ))
    }

    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

/// The fused kernel on token-major `[batch, tokens, heads, head_dim]` tensors,
/// or `None` when they are not f32 wgpu tensors or `head_dim` is not a
/// multiple of 4 (the caller then uses Burn's ops).
/// `key_lens`: per batch entry, how many leading keys are real (padding mask).
pub fn fused_attention(
    q: &Tensor<4>,
    k: &Tensor<4>,
    v: &Tensor<4>,
    causal: bool,
    key_lens: Option<&[u32]>,
) -> Option<Tensor<4>> {
    let (q, k, v) = (wgpu_f32(q)?, wgpu_f32(k)?, wgpu_f32(v)?);
    let [batch, q_len, heads, head_dim]: [usize; 4] = q.meta.shape().to_vec().try_into().ok()?;
    let shape = Shape {
        batch,
        q_len,
        k_len: k.meta.shape()[1],
        heads,
        head_dim,
    };
    launch(&[&q, &k, &v], shape, causal, key_lens)
}

/// Self-attention straight from one projection's product: `qkv` is
/// `[batch, tokens, 3 * heads * head_dim]` (each token's queries, keys and
/// values side by side, before `bias` is added), as one matmul by the three
/// weight matrices side by side gives it. Returns `[batch, tokens, heads,
/// head_dim]`; `None` where [`fused_attention`] would be.
pub fn fused_joint_attention(
    qkv: &Tensor<3>,
    bias: &Tensor<1>,
    heads: usize,
    causal: bool,
) -> Option<Tensor<4>> {
    let (qkv, bias) = (wgpu_f32(qkv)?, wgpu_f32(bias)?);
    let [batch, tokens, width]: [usize; 3] = qkv.meta.shape().to_vec().try_into().ok()?;
    if heads == 0 || !width.is_multiple_of(3 * heads) || bias.meta.shape()[0] != width {
        return None;
    }
    let shape = Shape {
        batch,
        q_len: tokens,
        k_len: tokens,
        heads,
        head_dim: width / 3 / heads,
    };
    launch(&[&qkv, &bias], shape, causal, None)
}

struct Shape {
    batch: usize,
    q_len: usize,
    k_len: usize,
    heads: usize,
    head_dim: usize,
}

/// Runs the kernel on `inputs`: `[q, k, v]`, or `[qkv, bias]` (the joint
/// variant).
fn launch(
    inputs: &[&CubeTensor],
    shape: Shape,
    causal: bool,
    key_lens: Option<&[u32]>,
) -> Option<Tensor<4>> {
    let Shape {
        batch,
        q_len,
        k_len,
        heads,
        head_dim,
    } = shape;
    if !head_dim.is_multiple_of(4) {
        return None;
    }
    let first = inputs[0];
    let output = empty_like(first, vec![batch, q_len, heads, head_dim]);
    if batch * q_len * heads * head_dim == 0 {
        return Some(Tensor::from_primitive::<Wgpu>(output));
    }
    let scale = (head_dim as f32).powf(-0.5);
    let lens: Vec<u32> = match key_lens {
        Some(lens) => lens.to_vec(),
        None => vec![k_len as u32],
    };
    let lens = u32_buffer(first, &lens);
    let params = AttentionParams {
        batch: batch as u32,
        heads: heads as u32,
        q_len: q_len as u32,
        k_len: k_len as u32,
        causal: causal as u32,
        use_key_lens: key_lens.is_some() as u32,
        scale,
    }
    .buffer(first);
    let query_blocks = q_len.div_ceil(WORKGROUP_SIZE as usize) as u32;
    let half_tiles = use_f16();
    let mut arguments = KernelArguments::new();
    for tensor in inputs.iter().copied().chain([&output]) {
        arguments = arguments.with_buffer(tensor.handle.clone().binding());
    }
    first.client.launch(
        Box::new(SourceKernel::new(
            AttentionKernel::new(head_dim, half_tiles, inputs.len() == 2),
            CubeDim::new_1d(WORKGROUP_SIZE),
        )),
        CubeCount::Static(query_blocks, (batch * heads) as u32, 1),
        arguments
            .with_buffer(lens.binding())
            .with_buffer(params.binding()),
    );
    count_launch(|l| {
        l.attention += 1;
        l.attention_f16 += half_tiles as usize;
    });
    Some(Tensor::from_primitive::<Wgpu>(output))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_fit_webgpus_baseline_workgroup_memory() {
        for head_dim in (4..=256).step_by(4) {
            for f16 in [false, true] {
                let kernel = AttentionKernel::new(head_dim, f16, false);
                let element = if f16 { 2 } else { 4 };
                // Two tiles plus the shared u32 loop bound.
                let bytes = 2 * kernel.tile * head_dim * element + 4;
                assert!(
                    bytes <= 16 * 1024,
                    "head_dim {head_dim} f16 {f16}: {bytes} bytes"
                );
                assert!(kernel.tile >= 1);
            }
        }
    }
}
