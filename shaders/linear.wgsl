// A linear layer on the GPU: out = activation(x · W + bias), x [M, K], W [K, N]
// (Burn's [in, out] layout), out [M, N], all contiguous, K and N multiples
// of 4. x, bias and out are f32; W is f32, or f16 where the adapter has
// shader-f16 (weight_elem = f16): half the bytes to read, which is what a
// batch-1 linear layer waits for. Products and sums stay in f32 either way.
//
// Each invocation owns one vec4 of ROWS consecutive rows of out, and a
// workgroup 64 neighbouring vec4s of the same rows: every x value it reads
// is the same for the whole workgroup (one load, broadcast), and each W
// vec4 read serves ROWS rows. K advances four at a time (a vec4 of each x
// row against four W rows). No workgroup memory and no barriers: on the
// software adapters, which run a workgroup's invocations as SIMD lanes, and at
// CLIP's few dozen rows this measured faster than Burn's tiled matmul (and
// than a 32x32 tile through workgroup memory, which was slower still).
//
// Template values: enable (`enable f16;` or nothing), params, rows,
// weight_elem (f32 or f16), bias (1u: add `bias`), activation (an expression
// of the vec4 `h`).

{{ enable }}

{{ params }}

const ROWS: u32 = {{ rows }}u;
const WORKGROUP_SIZE: u32 = 64u;

// All read_write: see softmax.wgsl.
@group(0) @binding(0) var<storage, read_write> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> w: array<vec4<{{ weight_elem }}>>;
@group(0) @binding(2) var<storage, read_write> bias: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> params: Params;

// x·sigmoid(1.702x); for large negative x the exponential overflows to
// infinity and the result is -0, never NaN.
fn quick_gelu(h: vec4<f32>) -> vec4<f32> {
    return h / (1.0 + exp(-1.702 * h));
}

@compute @workgroup_size(64, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let m = params.m;
    let k_len = params.k;
    let n_vec4s = params.n / 4u;
    let column = wid.x * WORKGROUP_SIZE + lid;
    let first_row = wid.y * ROWS;
    // Rows past the end repeat the last one (never written): the loop below
    // then needs no bounds checks.
    let k_vec4s = k_len / 4u;
    var row_at: array<u32, ROWS>;
    for (var r = 0u; r < ROWS; r++) {
        row_at[r] = min(first_row + r, m - 1u) * k_vec4s;
    }
    let w_column = min(column, n_vec4s - 1u);

    var acc: array<vec4<f32>, ROWS>;
    for (var r = 0u; r < ROWS; r++) {
        acc[r] = vec4<f32>(0.0);
    }
    for (var k4 = 0u; k4 < k_vec4s; k4++) {
        let at = 4u * k4 * n_vec4s + w_column;
        let w0 = vec4<f32>(w[at]);
        let w1 = vec4<f32>(w[at + n_vec4s]);
        let w2 = vec4<f32>(w[at + 2u * n_vec4s]);
        let w3 = vec4<f32>(w[at + 3u * n_vec4s]);
        for (var r = 0u; r < ROWS; r++) {
            let xv = x[row_at[r] + k4];
            acc[r] += xv.x * w0 + xv.y * w1 + xv.z * w2 + xv.w * w3;
        }
    }

    if column >= n_vec4s {
        return;
    }
    for (var r = 0u; r < ROWS; r++) {
        let row = first_row + r;
        if row < m {
            var h = acc[r];
            if {{ bias }} == 1u {
                h += bias[column];
            }
            out[row * n_vec4s + column] = {{ activation }};
        }
    }
}
