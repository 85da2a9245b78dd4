// A linear layer's bias, and optionally its activation, on the product the
// matmul left: output = activation(input + bias), bias broadcast over the
// rows of a contiguous [rows, cols] f32 tensor. One dispatch where Burn's ops
// take one for the bias and three for QuickGELU (scale, sigmoid, multiply).
//
// Template values: params, workgroup_size, activation (an expression of `h`).

{{ params }}

const WORKGROUP_SIZE: u32 = {{ workgroup_size }}u;

// All read_write: see softmax.wgsl.
@group(0) @binding(0) var<storage, read_write> input: array<f32>;
@group(0) @binding(1) var<storage, read_write> bias: array<f32>;
@group(0) @binding(2) var<storage, read_write> output: array<f32>;
@group(0) @binding(3) var<storage, read_write> params: Params;

// x·sigmoid(1.702x); for large negative x the exponential overflows to
// infinity and the result is -0, never NaN.
fn quick_gelu(h: f32) -> f32 {
    return h / (1.0 + exp(-1.702 * h));
}

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    // Workgroups beyond 65535 spill into the y dimension of the dispatch.
    let i = (wid.x + wid.y * groups.x) * WORKGROUP_SIZE + lid;
    if i >= params.count {
        return;
    }
    let h = input[i] + bias[i % params.cols];
    output[i] = {{ activation }};
}
