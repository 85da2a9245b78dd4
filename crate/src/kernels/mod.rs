//! Our hand-written WGSL kernels (in `shaders/`), launched on Burn's wgpu
//! tensors. Each op here takes ordinary tensors: on the wgpu backend it runs
//! the kernel, anywhere else (the CPU, autodiff during training) Burn's own
//! ops, so callers never choose.

pub mod attention;
pub mod layer_norm;
pub mod linear;
pub mod packed_matmul;
pub mod self_check;
pub mod softmax;

use std::sync::{Mutex, MutexGuard};

use burn::backend::wgpu::{CubeTensor, SourceTemplate, Wgpu, into_contiguous};
use burn::tensor::{DType, Tensor};

/// Everything the kernels keep for the process.
struct State {
    enabled: bool,
    /// Set by [`allow_variants`]; `None` means the defaults.
    variants: Option<Variants>,
    gpu: Option<Gpu>,
    launches: Launches,
    /// The first error the GPU reported outside any call that could return
    /// it (a refused shader, a bad dispatch): no later result is trusted.
    fault: Option<String>,
}

#[derive(Clone, Copy)]
struct Variants {
    f16: bool,
    subgroups: bool,
}

static STATE: Mutex<State> = Mutex::new(State {
    enabled: true,
    variants: None,
    gpu: None,
    launches: Launches {
        softmax: 0,
        softmax_subgroups: 0,
        attention: 0,
        attention_f16: 0,
        layer_norm: 0,
        linear: 0,
        linear_f16: 0,
    },
    fault: None,
});

fn state() -> MutexGuard<'static, State> {
    // The state stays consistent even if a holder panicked.
    STATE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Turns the custom kernels on or off for the whole process (for comparisons
/// and benchmarks; on by default). Off, wgpu runs Burn's own ops.
pub fn set_enabled(enabled: bool) {
    state().enabled = enabled;
}

pub fn enabled() -> bool {
    state().enabled
}

/// Which optional variants the kernels may pick where the GPU has the
/// feature: f16 tiles for attention and f16 weights for linear layers
/// (shader-f16; weights are stored when a model loads), subgroup reductions
/// for softmax (needs subgroups). For tests and comparisons; see
/// [`reset_variants`] for the defaults.
pub fn allow_variants(f16: bool, subgroups: bool) {
    state().variants = Some(Variants { f16, subgroups });
}

/// The defaults: f16 tiles and weights wherever shader-f16 exists; subgroup reductions
/// on hardware GPUs only. Software adapters report subgroups, but lavapipe
/// crashed (SIGSEGV) running the subgroup softmax inside the model, although
/// the kernel passes its own tests there; cubecl likewise leaves subgroups
/// unused on CPU adapters.
pub fn reset_variants() {
    state().variants = None;
}

fn use_f16() -> bool {
    let state = state();
    let allowed = state.variants.is_none_or(|v| v.f16);
    allowed && state.gpu.as_ref().is_some_and(|gpu| gpu.shader_f16)
}

fn use_subgroups() -> bool {
    let state = state();
    state.gpu.as_ref().is_some_and(|gpu| {
        let allowed = match state.variants {
            Some(v) => v.subgroups,
            None => !gpu.software,
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

/// Records the device's enabled features (called when the device starts;
/// the first device recorded is the one the kernels run on).
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
    state().gpu.get_or_insert(gpu);
    // The runtime's own handler panics (natively) or, in a browser whose
    // module cannot unwind, aborts it; the error is kept instead and every
    // later result from the GPU becomes an error (see `gpu_fault`).
    // A lost device is kept the same way: a read begun after it would wait
    // for an answer that never comes (in browsers), so reads check first.
    let fault = |message: String| {
        state().fault.get_or_insert(message);
    };
    setup
        .device
        .on_uncaptured_error(std::sync::Arc::new(move |error| {
            fault(format!("the GPU reported an error ({error})"))
        }));
    setup
        .device
        .set_device_lost_callback(move |reason, message| {
            fault(format!("the GPU device was lost ({reason:?}: {message})"))
        });
}

/// What went wrong with the GPU outside any call (an error it reported on
/// its own, or the device lost), in words: results computed since cannot be
/// trusted.
pub fn gpu_fault() -> Option<String> {
    state().fault.clone()
}

/// The GPU the kernels run on, once a wgpu device has started.
pub fn gpu() -> Option<Gpu> {
    state().gpu.clone()
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
    /// LayerNorms, plain or fused with the residual addition before them.
    pub layer_norm: usize,
    /// Linear layers (matmul, bias and activation).
    pub linear: usize,
    /// Of which with f16 weights.
    pub linear_f16: usize,
}

pub fn launches() -> Launches {
    state().launches
}

/// Counts one launch in the process-wide [`Launches`].
fn count_launch(count: impl FnOnce(&mut Launches)) {
    count(&mut state().launches);
}

/// A kernel's launch parameters, defined once for both sides: a Rust struct
/// for the launcher and the WGSL declaration of `struct Params` that the
/// shader's `{{ params }}` placeholder receives. Fields are `u32` or `f32`
/// (4 bytes each, so the layouts agree without padding).
macro_rules! kernel_params {
    ($name:ident { $($(#[$doc:meta])* $field:ident: $ty:ident),* $(,)? }) => {
        #[derive(Clone, Copy, Debug)]
        struct $name {
            $($(#[$doc])* $field: $ty),*
        }

        impl $name {
            /// `struct Params` in WGSL.
            const WGSL: &'static str = concat!(
                "struct Params {\n",
                $("    ", stringify!($field), ": ", stringify!($ty), ",\n",)*
                "}"
            );

            /// The buffer that fills `Params`, on `like`'s device.
            fn buffer(&self, like: &burn::backend::wgpu::CubeTensor) -> burn::cubecl::server::Handle {
                let mut bytes = Vec::new();
                $(bytes.extend_from_slice(&self.$field.to_le_bytes());)*
                like.client.create_from_slice(&bytes)
            }
        }
    };
}
use kernel_params;

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

/// `shaders/workgroup_reduce.wgsl`, which the row kernels paste in.
const REDUCE_SOURCE: &str = include_str!("../../../shaders/workgroup_reduce.wgsl");

/// Browsers' WGSL compilers want subgroups enabled by a directive; wgpu's
/// native one (naga) rejects the directive and enables them with the feature.
const SUBGROUPS_DIRECTIVE: &str = if cfg!(target_family = "wasm") {
    "enable subgroups;"
} else {
    ""
};

/// Fills a row kernel's `enable`, `reduce_functions` and `reduce` with the
/// workgroup reductions, with subgroup operations or without.
fn register_reduce(template: SourceTemplate, subgroups: bool) -> SourceTemplate {
    let (functions, enable, reduce) = match subgroups {
        true => (
            without_section(REDUCE_SOURCE, "no-subgroups"),
            SUBGROUPS_DIRECTIVE,
            "reduce_subgroups",
        ),
        false => (
            without_section(REDUCE_SOURCE, "subgroups"),
            "",
            "reduce_tree",
        ),
    };
    template
        .register("enable", enable)
        .register("reduce_functions", functions)
        .register("reduce", reduce)
}

/// The contiguous f32 wgpu tensor behind `tensor`, when the kernels can take it.
fn wgpu_f32<const D: usize>(tensor: &Tensor<D>) -> Option<CubeTensor> {
    wgpu_tensor(tensor).filter(|t| t.dtype == DType::F32)
}

/// The contiguous wgpu tensor behind `tensor`, whatever its element type,
/// when the kernels are on.
fn wgpu_tensor<const D: usize>(tensor: &Tensor<D>) -> Option<CubeTensor> {
    if !enabled() {
        return None;
    }
    let primitive = tensor.clone().try_into_primitive::<Wgpu>().ok()?;
    Some(into_contiguous(primitive))
}

/// A `u32` buffer on `like`'s device.
fn u32_buffer(like: &CubeTensor, values: &[u32]) -> burn::cubecl::server::Handle {
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
