//! Launcher of `shaders/linear.wgsl`: a linear layer's matmul, bias and
//! activation in one dispatch, with weights in f32 or (where the GPU has
//! shader-f16) f16.

use burn::backend::wgpu::{KernelSource, SourceKernel, SourceTemplate, Wgpu};
use burn::cubecl::prelude::KernelId;
use burn::cubecl::server::KernelArguments;
use burn::cubecl::{CubeCount, CubeDim};
use burn::tensor::{DType, Device, Tensor, TensorCreationOptions, TensorData};

use super::{
    count_launch, empty_like, enabled, kernel_params, u32_buffer, use_f16, wgpu_f32, wgpu_tensor,
};
use crate::config::Activation;

/// Output rows an invocation computes.
const ROWS: usize = 8;
/// Output vec4s of those rows a workgroup computes.
const WORKGROUP_VEC4S: usize = 64;
const SOURCE: &str = include_str!("../../../shaders/linear.wgsl");

kernel_params!(LinearParams {
    m: u32,
    k: u32,
    n: u32
});

struct LinearKernel {
    bias: bool,
    /// The weights are f16.
    half_weights: bool,
    /// The WGSL expression of `h` the output is.
    activation: &'static str,
}

impl KernelSource for LinearKernel {
    fn source(&self) -> SourceTemplate {
        SourceTemplate::new(SOURCE)
            .register("enable", if self.half_weights { "enable f16;" } else { "" })
            .register("params", LinearParams::WGSL)
            .register("rows", ROWS.to_string())
            .register("weight_elem", if self.half_weights { "f16" } else { "f32" })
            .register("bias", if self.bias { "1u" } else { "0u" })
            .register("activation", self.activation)
    }

    fn id(&self) -> KernelId {
        KernelId::new::<Self>().info((ROWS, self.bias, self.half_weights, self.activation, SOURCE))
    }

    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

/// `activation(x · weight + bias)`: `x` is `[.., in]`, `weight` `[in, out]`
/// (f32, or f16 as [`kernel_weight`] makes it).
pub fn linear<const D: usize>(
    x: Tensor<D>,
    weight: Tensor<2>,
    bias: Option<Tensor<1>>,
    activation: Option<Activation>,
) -> Tensor<D> {
    // Exact GELU needs erf, which WGSL lacks: Burn's op follows the kernel.
    let (in_kernel, after) = match activation {
        Some(Activation::Gelu) => (None, activation),
        _ => (activation, None),
    };
    let h = match fused(&x, &weight, bias.as_ref(), in_kernel) {
        Some(h) => h,
        None => {
            let weight = weight.cast(x.dtype());
            let h = burn::tensor::module::linear(x, weight, bias);
            match in_kernel {
                Some(activation) => activation.forward(h),
                None => h,
            }
        }
    };
    match after {
        Some(activation) => activation.forward(h),
        None => h,
    }
}

/// A `[d_in, d_out]` weight matrix on `device` as [`linear`] reads it best:
/// f16 where the GPU has shader-f16 and the kernel takes the shape (half the
/// memory, and half the bytes each encode reads; sums stay f32), f32
/// elsewhere.
pub fn kernel_weight(values: Vec<f32>, [d_in, d_out]: [usize; 2], device: &Device) -> Tensor<2> {
    let half = enabled()
        && use_f16()
        && d_in.is_multiple_of(4)
        && d_out.is_multiple_of(4)
        && *device != crate::device::cpu();
    let data = TensorData::new(values, [d_in, d_out]);
    match half {
        true => Tensor::from_data(
            data,
            TensorCreationOptions::new(device.clone()).with_dtype(DType::F16),
        ),
        false => Tensor::from_data(data, device),
    }
}

/// The kernel, where it applies: wgpu tensors (f32, the weight f32 or
/// f16), an output width that is a multiple of 4, an activation it has.
fn fused<const D: usize>(
    x: &Tensor<D>,
    weight: &Tensor<2>,
    bias: Option<&Tensor<1>>,
    activation: Option<Activation>,
) -> Option<Tensor<D>> {
    let activation = match activation {
        None => "h",
        Some(Activation::QuickGelu) => "quick_gelu(h)",
        Some(Activation::Gelu) => return None,
    };
    let input = wgpu_f32(x)?;
    let weight = wgpu_tensor(weight).filter(|w| matches!(w.dtype, DType::F32 | DType::F16))?;
    let half_weights = weight.dtype == DType::F16;
    let mut shape = input.meta.shape().to_vec();
    let k = *shape.last()?;
    let [weight_k, n]: [usize; 2] = weight.meta.shape().to_vec().try_into().ok()?;
    let m = shape.iter().product::<usize>() / k.max(1);
    let groups_y = m.div_ceil(ROWS);
    if weight_k != k || !k.is_multiple_of(4) || !n.is_multiple_of(4) || groups_y > 65_535 {
        return None;
    }
    let bias = match bias {
        Some(bias) => Some(wgpu_f32(bias)?).filter(|b| b.meta.shape()[0] == n),
        None => None,
    };
    *shape.last_mut()? = n;
    let output = empty_like(&input, shape);
    if m * n == 0 {
        return Some(Tensor::from_primitive::<Wgpu>(output));
    }
    let params = LinearParams {
        m: m as u32,
        k: k as u32,
        n: n as u32,
    }
    .buffer(&input);
    let bias_binding = match &bias {
        Some(bias) => bias.handle.clone().binding(),
        // Unread, but the binding must exist: a vec4 of zeros stands in.
        None => u32_buffer(&input, &[0; 4]).binding(),
    };
    input.client.launch(
        Box::new(SourceKernel::new(
            LinearKernel {
                bias: bias.is_some(),
                half_weights,
                activation,
            },
            CubeDim::new_1d(WORKGROUP_VEC4S as u32),
        )),
        CubeCount::Static((n / 4).div_ceil(WORKGROUP_VEC4S) as u32, groups_y as u32, 1),
        KernelArguments::new()
            .with_buffer(input.handle.clone().binding())
            .with_buffer(weight.handle.clone().binding())
            .with_buffer(bias_binding)
            .with_buffer(output.handle.clone().binding())
            .with_buffer(params.binding()),
    );
    count_launch(|l| {
        l.linear += 1;
        l.linear_f16 += half_weights as usize;
    });
    Some(Tensor::from_primitive::<Wgpu>(output))
}
