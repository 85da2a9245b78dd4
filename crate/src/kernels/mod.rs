//! Our hand-written WGSL kernels (in `shaders/`), launched on Burn's wgpu
//! tensors. Each op here takes ordinary tensors: on the wgpu backend it runs
//! the kernel, anywhere else (the CPU, autodiff during training) Burn's own
//! ops, so callers never choose.

pub mod attention;
pub mod softmax;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use burn::backend::wgpu::{CubeTensor, Wgpu, into_contiguous};
use burn::tensor::{DType, Tensor};

static ENABLED: AtomicBool = AtomicBool::new(true);
static SOFTMAX_LAUNCHES: AtomicUsize = AtomicUsize::new(0);
static ATTENTION_LAUNCHES: AtomicUsize = AtomicUsize::new(0);

/// Turns the custom kernels on or off for the whole process (for comparisons
/// and benchmarks; on by default). Off, wgpu runs Burn's own ops.
pub fn set_enabled(enabled: bool) {
    ENABLED.store(enabled, Ordering::SeqCst);
}

pub fn enabled() -> bool {
    ENABLED.load(Ordering::SeqCst)
}

/// How many times each kernel has been launched in this process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Launches {
    pub softmax: usize,
    pub attention: usize,
}

pub fn launches() -> Launches {
    Launches {
        softmax: SOFTMAX_LAUNCHES.load(Ordering::SeqCst),
        attention: ATTENTION_LAUNCHES.load(Ordering::SeqCst),
    }
}

/// The contiguous f32 wgpu tensor behind `tensor`, when the kernels can take it.
fn wgpu_f32<const D: usize>(tensor: &Tensor<D>) -> Option<CubeTensor> {
    if !enabled() {
        return None;
    }
    let primitive = tensor.clone().try_into_primitive::<Wgpu>().ok()?;
    (primitive.dtype == DType::F32).then(|| into_contiguous(primitive))
}

/// A `u32` buffer of launch parameters on `like`'s device.
fn info_buffer(like: &CubeTensor, values: &[u32]) -> burn::cubecl::server::Handle {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    like.client.create_from_slice(&bytes)
}

/// A fresh contiguous f32 tensor of `shape` on `like`'s device.
fn empty_like(like: &CubeTensor, shape: Vec<usize>) -> CubeTensor {
    let elements: usize = shape.iter().product();
    let handle = like.client.empty(elements * size_of::<f32>());
    CubeTensor::new_contiguous(
        like.client.clone(),
        like.device.clone(),
        shape.into(),
        handle,
        DType::F32,
    )
}

/// Workgroups for `count` items, spread over x and y (each at most 65535).
fn grid(count: usize) -> (u32, u32) {
    const MAX: usize = 65_535;
    let x = count.clamp(1, MAX);
    (x as u32, count.div_ceil(MAX).max(1) as u32)
}
