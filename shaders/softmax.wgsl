// Numerically stable softmax over the last dimension of a contiguous
// [rows, cols] f32 tensor: one workgroup per row, any row length.
//
// A row whose every value is at or below -1e30 (entirely masked, e.g. all
// -inf) has no defined distribution: it comes out as zeros, never NaN.
//
// Template values: workgroup_size.

const WORKGROUP_SIZE: u32 = {{ workgroup_size }}u;
const MASKED: f32 = -1.0e30;

// Every binding is read_write: the runtime may carve several tensors from
// one buffer, and mixed access modes on one buffer fail validation.
@group(0) @binding(0) var<storage, read_write> input: array<f32>;
@group(0) @binding(1) var<storage, read_write> output: array<f32>;
// rows, cols
@group(0) @binding(2) var<storage, read_write> info: array<u32>;

var<workgroup> partial: array<f32, WORKGROUP_SIZE>;

// Tree reduction of `partial`; `take_max` picks max, else sum. Every
// invocation returns the result.
fn reduce(lid: u32, take_max: bool) -> f32 {
    var stride = WORKGROUP_SIZE / 2u;
    loop {
        if stride == 0u {
            break;
        }
        workgroupBarrier();
        if lid < stride {
            let a = partial[lid];
            let b = partial[lid + stride];
            partial[lid] = select(a + b, max(a, b), take_max);
        }
        stride = stride / 2u;
    }
    workgroupBarrier();
    let result = partial[0];
    workgroupBarrier();
    return result;
}

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let rows = info[0];
    let cols = info[1];
    // Rows beyond 65535 spill into the y dimension of the dispatch.
    let row = wid.x + wid.y * groups.x;
    // Uniform per workgroup, so returning keeps barriers in uniform control flow.
    if row >= rows {
        return;
    }
    let base = row * cols;

    var local_max = MASKED;
    for (var i = lid; i < cols; i += WORKGROUP_SIZE) {
        local_max = max(local_max, input[base + i]);
    }
    partial[lid] = local_max;
    let row_max = reduce(lid, true);

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
    partial[lid] = local_sum;
    let inverse_sum = 1.0 / reduce(lid, false);

    for (var i = lid; i < cols; i += WORKGROUP_SIZE) {
        output[base + i] = exp(input[base + i] - row_max) * inverse_sum;
    }
}
