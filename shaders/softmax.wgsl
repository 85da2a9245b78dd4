// Numerically stable softmax over the last dimension of a contiguous
// [rows, cols] f32 tensor: one workgroup per row, any row length.
//
// A row whose every value is at or below -1e30 (entirely masked, e.g. all
// -inf) has no defined distribution: it comes out as zeros, never NaN.
//
// Where the adapter has subgroups, the two row reductions use subgroup
// operations and one slot per subgroup (3 barriers) instead of a tree over
// the workgroup (7 barriers); the launcher strips that code elsewhere.
//
// Template values: enable (an `enable` directive or nothing), params (the
// declaration of `struct Params`, written from the launcher's own struct),
// reduce (the reduction to use), workgroup_size.

{{ enable }}

{{ params }}

const WORKGROUP_SIZE: u32 = {{ workgroup_size }}u;
const MASKED: f32 = -1.0e30;

// Every binding is read_write: the runtime may carve several tensors from
// one buffer, and mixed access modes on one buffer fail validation.
@group(0) @binding(0) var<storage, read_write> input: array<f32>;
@group(0) @binding(1) var<storage, read_write> output: array<f32>;
@group(0) @binding(2) var<storage, read_write> params: Params;

var<workgroup> partial: array<f32, WORKGROUP_SIZE>;
// Values read from storage are not provably uniform; barriers need control
// flow that is, so the row size passes through workgroup memory.
var<workgroup> uniform_rows: u32;
var<workgroup> uniform_cols: u32;

// BEGIN no-subgroups
struct Invocation {
    @builtin(local_invocation_index) lid: u32,
}
// END no-subgroups
// BEGIN subgroups
struct Invocation {
    @builtin(local_invocation_index) lid: u32,
    @builtin(subgroup_invocation_id) lane: u32,
}
// END subgroups

fn combine(a: f32, b: f32, take_max: bool) -> f32 {
    return select(a + b, max(a, b), take_max);
}

// Workgroup-wide max (take_max) or sum of `value`, returned to every
// invocation: a tree over workgroup memory.
fn reduce_tree(value: f32, invocation: Invocation, take_max: bool) -> f32 {
    let lid = invocation.lid;
    partial[lid] = value;
    var stride = WORKGROUP_SIZE / 2u;
    loop {
        if stride == 0u {
            break;
        }
        workgroupBarrier();
        if lid < stride {
            let a = partial[lid];
            let b = partial[lid + stride];
            partial[lid] = combine(a, b, take_max);
        }
        stride = stride / 2u;
    }
    // Also the barrier after the last step; the result is provably uniform.
    let result = workgroupUniformLoad(&partial[0]);
    // `partial` is written again by the next reduction.
    workgroupBarrier();
    return result;
}

// BEGIN subgroups
var<workgroup> used_slots: atomic<u32>;
var<workgroup> uniform_result: f32;

// The same with subgroup operations: each subgroup reduces in registers, its
// first invocation takes a slot (no assumption about how invocations are
// grouped into subgroups), and every invocation combines the few slots.
fn reduce_subgroups(value: f32, invocation: Invocation, take_max: bool) -> f32 {
    let mine = select(subgroupAdd(value), subgroupMax(value), take_max);
    if invocation.lane == 0u {
        partial[atomicAdd(&used_slots, 1u)] = mine;
    }
    workgroupBarrier();
    let slots = atomicLoad(&used_slots);
    var result = partial[0];
    for (var i = 1u; i < slots; i++) {
        result = combine(result, partial[i], take_max);
    }
    workgroupBarrier();
    if invocation.lid == 0u {
        atomicStore(&used_slots, 0u);
        uniform_result = result;
    }
    // Every invocation computed the same value; this makes it provably uniform.
    return workgroupUniformLoad(&uniform_result);
}
// END subgroups

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    invocation: Invocation,
) {
    let lid = invocation.lid;
    if lid == 0u {
        uniform_rows = params.rows;
        uniform_cols = params.cols;
    }
    let rows = workgroupUniformLoad(&uniform_rows);
    let cols = workgroupUniformLoad(&uniform_cols);
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
