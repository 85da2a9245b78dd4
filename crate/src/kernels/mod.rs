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
static GPU: std::sync::OnceLock<Gpu> = std::sync::OnceLock::new();
static ALLOW_F16: AtomicBool = AtomicBool::new(true);
static ALLOW_SUBGROUPS: AtomicBool = AtomicBool::new(true);
/// Whether [`allow_variants`] overrides the defaults.
static VARIANTS_CHOSEN: AtomicBool = AtomicBool::new(false);
static SOFTMAX_LAUNCHES: AtomicUsize = AtomicUsize::new(0);
static SOFTMAX_SUBGROUP_LAUNCHES: AtomicUsize = AtomicUsize::new(0);
static ATTENTION_LAUNCHES: AtomicUsize = AtomicUsize::new(0);
static ATTENTION_F16_LAUNCHES: AtomicUsize = AtomicUsize::new(0);

/// Turns the custom kernels on or off for the whole process (for comparisons
/// and benchmarks; on by default). Off, wgpu runs Burn's own ops.
pub fn set_enabled(enabled: bool) {
    ENABLED.store(enabled, Ordering::SeqCst);
}

pub fn enabled() -> bool {
    ENABLED.load(Ordering::SeqCst)
}

/// Which optional variants the kernels may pick where the GPU has the
/// feature: f16 tiles for attention (needs shader-f16), subgroup reductions
/// for softmax (needs subgroups). For tests and comparisons; see
/// [`reset_variants`] for the defaults.
pub fn allow_variants(f16: bool, subgroups: bool) {
    ALLOW_F16.store(f16, Ordering::SeqCst);
    ALLOW_SUBGROUPS.store(subgroups, Ordering::SeqCst);
    VARIANTS_CHOSEN.store(true, Ordering::SeqCst);
}

/// The defaults: f16 tiles wherever shader-f16 exists; subgroup reductions
/// on hardware GPUs only. Software adapters report subgroups, but lavapipe
/// crashed (SIGSEGV) running the subgroup softmax inside the model, although
/// the kernel passes its own tests there; cubecl likewise leaves subgroups
/// unused on CPU adapters.
pub fn reset_variants() {
    VARIANTS_CHOSEN.store(false, Ordering::SeqCst);
}

fn use_f16() -> bool {
    let allowed = !VARIANTS_CHOSEN.load(Ordering::SeqCst) || ALLOW_F16.load(Ordering::SeqCst);
    allowed && GPU.get().is_some_and(|gpu| gpu.shader_f16)
}

fn use_subgroups() -> bool {
    let chosen = VARIANTS_CHOSEN.load(Ordering::SeqCst);
    GPU.get().is_some_and(|gpu| {
        let allowed = if chosen {
            ALLOW_SUBGROUPS.load(Ordering::SeqCst)
        } else {
            !gpu.software
        };
        allowed && gpu.subgroups
    })
}

/// What the GPU offers the kernels, read from the device once it is up.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Gpu {
    pub adapter: String,
    pub shader_f16: bool,
    pub subgroups: bool,
    /// A software rasterizer (lavapipe, SwiftShader) rather than a GPU.
    pub software: bool,
}

/// Records the device's enabled features (called when the device starts).
pub fn record_gpu(setup: &burn::tensor::wgpu::WgpuSetup) {
    use burn::tensor::wgpu::wgpu::Features;
    let features = setup.device.features();
    let info = setup.adapter.get_info();
    let gpu = Gpu {
        adapter: info.name,
        shader_f16: features.contains(Features::SHADER_F16),
        subgroups: features.contains(Features::SUBGROUP),
        software: info.device_type == burn::tensor::wgpu::wgpu::DeviceType::Cpu,
    };
    let _ = GPU.set(gpu);
}

/// The GPU the kernels run on, once a wgpu device has started.
pub fn gpu() -> Option<Gpu> {
    GPU.get().cloned()
}

/// How many times each kernel has been launched in this process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Launches {
    pub softmax: usize,
    /// Of which with subgroup reductions.
    pub softmax_subgroups: usize,
    pub attention: usize,
    /// Of which with f16 tiles.
    pub attention_f16: usize,
}

pub fn launches() -> Launches {
    Launches {
        softmax: SOFTMAX_LAUNCHES.load(Ordering::SeqCst),
        softmax_subgroups: SOFTMAX_SUBGROUP_LAUNCHES.load(Ordering::SeqCst),
        attention: ATTENTION_LAUNCHES.load(Ordering::SeqCst),
        attention_f16: ATTENTION_F16_LAUNCHES.load(Ordering::SeqCst),
    }
}

/// `source` without the lines from `// BEGIN name` to `// END name`: a
/// variant's code that would not compile where its feature is missing.
fn without_section(source: &str, name: &str) -> String {
    let (begin, end) = (format!("// BEGIN {name}"), format!("// END {name}"));
    let mut inside = false;
    let mut kept = String::with_capacity(source.len());
    for line in source.lines() {
        let marker = line.trim();
        if marker == begin {
            inside = true;
        } else if marker == end {
            inside = false;
        } else if !inside {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    kept
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
