// LayerNorm over the last dimension of a contiguous [rows, cols] f32 tensor,
// optionally fused with the residual addition before it: one workgroup per
// row, any row length.
//
// Variant `add` (a transformer block's "x + f(x)" then the next LayerNorm):
// sum = residual + (delta + bias), written out as the new residual stream,
// and normed = LayerNorm(sum). Variant `plain`: normed = LayerNorm(input).
// Either replaces about ten separate dispatches (the adds, two means, the
// subtraction, square, square root, division and the affine step).
//
// The variance is the mean of squared deviations from the mean (two passes
// over the row, not E[x²] - E[x]²), as Burn's and torch's LayerNorm compute
// it, so rows far from zero keep their precision.
//
// Template values: enable, params, reduce_functions and reduce (see
// workgroup_reduce.wgsl), workgroup_size.

{{ enable }}

{{ params }}

const WORKGROUP_SIZE: u32 = {{ workgroup_size }}u;

// All read_write: see softmax.wgsl.
// BEGIN add
@group(0) @binding(0) var<storage, read_write> residual: array<f32>;
@group(0) @binding(1) var<storage, read_write> delta: array<f32>;
@group(0) @binding(2) var<storage, read_write> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> gamma: array<f32>;
@group(0) @binding(4) var<storage, read_write> beta: array<f32>;
@group(0) @binding(5) var<storage, read_write> sum: array<f32>;
@group(0) @binding(6) var<storage, read_write> normed: array<f32>;
@group(0) @binding(7) var<storage, read_write> params: Params;

// The row's value at `at` (column `col`), computed and kept on first use.
fn first_read(at: u32, col: u32) -> f32 {
    let value = residual[at] + (delta[at] + bias[col]);
    sum[at] = value;
    return value;
}

fn reread(at: u32) -> f32 {
    return sum[at];
}
// END add
// BEGIN plain
@group(0) @binding(0) var<storage, read_write> input: array<f32>;
@group(0) @binding(1) var<storage, read_write> gamma: array<f32>;
@group(0) @binding(2) var<storage, read_write> beta: array<f32>;
@group(0) @binding(3) var<storage, read_write> normed: array<f32>;
@group(0) @binding(4) var<storage, read_write> params: Params;

fn first_read(at: u32, col: u32) -> f32 {
    return input[at];
}

fn reread(at: u32) -> f32 {
    return input[at];
}
// END plain

{{ reduce_functions }}

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    invocation: Invocation,
) {
    let lid = invocation.lid;
    let row = workgroup_row(wid, groups, lid);
    // Uniform per workgroup, so returning keeps barriers in uniform control flow.
    if !row.inside {
        return;
    }
    let base = row.base;
    let cols = row.cols;

    var local_sum = 0.0;
    for (var i = lid; i < cols; i += WORKGROUP_SIZE) {
        local_sum += first_read(base + i, i);
    }
    let mean = {{ reduce }}(local_sum, invocation, false) / f32(cols);

    var local_squares = 0.0;
    for (var i = lid; i < cols; i += WORKGROUP_SIZE) {
        let deviation = reread(base + i) - mean;
        local_squares += deviation * deviation;
    }
    let variance = {{ reduce }}(local_squares, invocation, false) / f32(cols);
    let inverse_std = 1.0 / sqrt(variance + params.epsilon);

    for (var i = lid; i < cols; i += WORKGROUP_SIZE) {
        normed[base + i] = (reread(base + i) - mean) * inverse_std * gamma[i] + beta[i];
    }
}
