// What the row kernels (softmax, layer norm: one workgroup per row of a
// [rows, cols] tensor) share, pasted into them at `{{ reduce_functions }}`:
// finding the workgroup's row, and workgroup-wide reductions. The kernel
// defines WORKGROUP_SIZE and `params` (with `rows` and `cols`) and calls
// `{{ reduce }}(value, invocation, take_max)`.
//
// Where the adapter has subgroups, each reduction uses subgroup operations
// and one slot per subgroup (3 barriers) instead of a tree over the
// workgroup (7 barriers); the launcher strips the code of the other variant.

var<workgroup> partial: array<f32, WORKGROUP_SIZE>;

// Values read from storage are not provably uniform; barriers need control
// flow that is, so the row size passes through workgroup memory.
var<workgroup> uniform_rows: u32;
var<workgroup> uniform_cols: u32;

struct WorkgroupRow {
    // The row's first element and its length.
    base: u32,
    cols: u32,
    // false for a spare workgroup past the last row.
    inside: bool,
}

// The workgroup's row (rows beyond 65535 spill into the y dimension of the
// dispatch); every field is uniform across the workgroup.
fn workgroup_row(wid: vec3<u32>, groups: vec3<u32>, lid: u32) -> WorkgroupRow {
    if lid == 0u {
        uniform_rows = params.rows;
        uniform_cols = params.cols;
    }
    let rows = workgroupUniformLoad(&uniform_rows);
    let cols = workgroupUniformLoad(&uniform_cols);
    let row = wid.x + wid.y * groups.x;
    return WorkgroupRow(row * cols, cols, row < rows);
}

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
