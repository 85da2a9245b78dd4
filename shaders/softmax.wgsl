// Numerically stable softmax over the last dimension of a contiguous
// [rows, cols] f32 tensor: one workgroup per row, any row length.
//
// A row whose every value is at or below -1e30 (entirely masked, e.g. all
// -inf) has no defined distribution: it comes out as zeros, never NaN.
//
// Template values: enable (an `enable` directive or nothing), params (the
// declaration of `struct Params`, written from the launcher's own struct),
// reduce_functions and reduce (see workgroup_reduce.wgsl), workgroup_size.

{{ enable }}

{{ params }}

const WORKGROUP_SIZE: u32 = {{ workgroup_size }}u;
const MASKED: f32 = -1.0e30;

// Every binding is read_write: the runtime may carve several tensors from
// one buffer, and mixed access modes on one buffer fail validation.
@group(0) @binding(0) var<storage, read_write> input: array<f32>;
@group(0) @binding(1) var<storage, read_write> output: array<f32>;
@group(0) @binding(2) var<storage, read_write> params: Params;

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

    var local_max = MASKED;
    for (var i = lid; i < cols; i += WORKGROUP_SIZE) {
        local_max = max(local_max, input[base + i]);
    }
    let row_max = {{ reduce }}(local_max, invocation, true);

    if row_max <= MASKED {
        for (var i = lid; i < cols; i += WORKGROUP_SIZE) {
            output[base + i] = 0.0;
        }
        return;
    }

    var local_sum = 0.0;
    for (var i = lid; i < cols; i += WORKGROUP_SIZE) {
        local_sum += exp(input[base + i] - row_max);
    }
    let inverse_sum = 1.0 / {{ reduce }}(local_sum, invocation, false);

    for (var i = lid; i < cols; i += WORKGROUP_SIZE) {
        output[base + i] = exp(input[base + i] - row_max) * inverse_sum;
    }
}
