// Fused scaled-dot-product attention, softmax(Q·Kᵀ·scale + mask)·V, in one
// dispatch. Flash-attention style: keys and values stream through workgroup
// memory a tile at a time and each query keeps a running (online) softmax,
// so the score matrix never goes to memory.
//
// Layout: token-major, as the projections produce it, so no transposes are
// needed: q [batch, q_len, heads, HEAD_DIM], k and v [batch, k_len, heads,
// HEAD_DIM], out like q; all contiguous f32. Variant `joint` (self-attention
// after one projection of three times the width): one input [batch, len, 3,
// heads, HEAD_DIM] and the projection's bias [3, heads, HEAD_DIM], added here. One invocation owns one query; a
// workgroup owns WORKGROUP_SIZE consecutive queries of one (batch, head)
// (dispatch: x = query blocks, y = batch * heads).
//
// Masks: `params.causal` hides keys after the query; `key_lens[batch]` (when
// `params.use_key_lens` is 1) hides keys at or beyond a sequence's length
// (padding).
// A query that sees no key at all gets zeros.
//
// Rows are handled as vec4s (head_dim must be a multiple of 4): a quarter of
// the loop iterations, SIMD-friendly, and it matters for correctness on Mesa's
// lavapipe, where the same loops over scalar floats gave wrong results once
// a sequence passed a few hundred keys at head_dim 64 and above.
//
// Where the adapter has shader-f16, the key and value tiles are kept in f16
// (tile_elem = f16): half the workgroup memory per key, so twice the keys per
// tile; products and sums stay in f32.
//
// Template values: enable (an `enable` directive or nothing), params (the
// declaration of `struct Params`, written from the launcher's own struct),
// tile_elem (f32 or f16), workgroup_size, head_dim, tile (keys per tile; the
// two tiles stay within WebGPU's baseline 16 KiB of workgroup memory).

{{ enable }}

{{ params }}

const WORKGROUP_SIZE: u32 = {{ workgroup_size }}u;
const HEAD_DIM: u32 = {{ head_dim }}u;
const HEAD_VEC4S: u32 = HEAD_DIM / 4u;
const TILE: u32 = {{ tile }}u;
const MASKED: f32 = -1.0e30;

// All read_write: see softmax.wgsl.
// BEGIN separate
@group(0) @binding(0) var<storage, read_write> q: array<f32>;
@group(0) @binding(1) var<storage, read_write> k: array<f32>;
@group(0) @binding(2) var<storage, read_write> v: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read_write> key_lens: array<u32>;
@group(0) @binding(5) var<storage, read_write> params: Params;

// Four values of query (part 0), key (1) or value (2) row `token` (counted
// over the whole batch), from column `col` of its `heads * HEAD_DIM`.
fn load4(part: u32, token: u32, col: u32) -> vec4<f32> {
    let at = token * params.heads * HEAD_DIM + col;
    if part == 0u {
        return vec4<f32>(q[at], q[at + 1u], q[at + 2u], q[at + 3u]);
    }
    if part == 1u {
        return vec4<f32>(k[at], k[at + 1u], k[at + 2u], k[at + 3u]);
    }
    return vec4<f32>(v[at], v[at + 1u], v[at + 2u], v[at + 3u]);
}
// END separate
// BEGIN joint
@group(0) @binding(0) var<storage, read_write> qkv: array<f32>;
@group(0) @binding(1) var<storage, read_write> bias: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> key_lens: array<u32>;
@group(0) @binding(4) var<storage, read_write> params: Params;

// The same from one projection's product (each token's queries, keys and
// values side by side), plus its bias.
fn load4(part: u32, token: u32, col: u32) -> vec4<f32> {
    let width = params.heads * HEAD_DIM;
    let at = (token * 3u + part) * width + col;
    let b = part * width + col;
    return vec4<f32>(qkv[at], qkv[at + 1u], qkv[at + 2u], qkv[at + 3u])
        + vec4<f32>(bias[b], bias[b + 1u], bias[b + 2u], bias[b + 3u]);
}
// END joint

// Values read from storage are not provably uniform; the tile loop holds
// barriers, so its bound passes through workgroup memory.
var<workgroup> uniform_keys_needed: u32;

var<workgroup> k_tile: array<vec4<{{ tile_elem }}>, TILE * HEAD_VEC4S>;
var<workgroup> v_tile: array<vec4<{{ tile_elem }}>, TILE * HEAD_VEC4S>;

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let heads = params.heads;
    let q_len = params.q_len;
    let k_len_all = params.k_len;
    let causal = params.causal == 1u;
    let scale = params.scale;

    let batch = wid.y / heads;
    let head = wid.y % heads;
    let query = wid.x * WORKGROUP_SIZE + lid;
    let has_query = query < q_len;

    // Keys this workgroup can need at all (uniform across the workgroup).
    var k_len = k_len_all;
    if params.use_key_lens == 1u {
        k_len = min(k_len, key_lens[batch]);
    }
    if lid == 0u {
        var needed = k_len;
        if causal {
            needed = min(k_len, (wid.x + 1u) * WORKGROUP_SIZE);
        }
        uniform_keys_needed = needed;
    }
    let keys_needed = workgroupUniformLoad(&uniform_keys_needed);
    // Keys this invocation's query may see.
    var visible = k_len;
    if causal {
        visible = min(k_len, query + 1u);
    }

    var q_row: array<vec4<f32>, HEAD_VEC4S>;
    var acc: array<vec4<f32>, HEAD_VEC4S>;
    let q_token = batch * q_len + min(query, q_len - 1u);
    for (var d = 0u; d < HEAD_VEC4S; d++) {
        q_row[d] = load4(0u, q_token, head * HEAD_DIM + 4u * d) * scale;
        acc[d] = vec4<f32>(0.0);
    }
    var running_max = MASKED;
    var running_sum = 0.0;
    var scores: array<f32, TILE>;

    let first_key = batch * k_len_all;
    for (var start = 0u; start < keys_needed; start += TILE) {
        // Cooperative load of the tile's keys and values.
        for (var i = lid; i < TILE * HEAD_VEC4S; i += WORKGROUP_SIZE) {
            let key = start + i / HEAD_VEC4S;
            var k4 = vec4<f32>(0.0);
            var v4 = vec4<f32>(0.0);
            if key < k_len {
                let col = head * HEAD_DIM + 4u * (i % HEAD_VEC4S);
                k4 = load4(1u, first_key + key, col);
                v4 = load4(2u, first_key + key, col);
            }
            k_tile[i] = vec4<{{ tile_elem }}>(k4);
            v_tile[i] = vec4<{{ tile_elem }}>(v4);
        }
        workgroupBarrier();

        if has_query && start < visible {
            let count = min(TILE, visible - start);
            var tile_max = MASKED;
            for (var j = 0u; j < count; j++) {
                var s = 0.0;
                for (var d = 0u; d < HEAD_VEC4S; d++) {
                    s += dot(q_row[d], vec4<f32>(k_tile[j * HEAD_VEC4S + d]));
                }
                scores[j] = s;
                tile_max = max(tile_max, s);
            }
            let new_max = max(running_max, tile_max);
            let correction = exp(running_max - new_max);
            running_sum *= correction;
            for (var d = 0u; d < HEAD_VEC4S; d++) {
                acc[d] *= correction;
            }
            for (var j = 0u; j < count; j++) {
                let p = exp(scores[j] - new_max);
                running_sum += p;
                for (var d = 0u; d < HEAD_VEC4S; d++) {
                    acc[d] += p * vec4<f32>(v_tile[j * HEAD_VEC4S + d]);
                }
            }
            running_max = new_max;
        }
        workgroupBarrier();
    }

    if has_query {
        let inverse = select(0.0, 1.0 / running_sum, running_sum > 0.0);
        let out_base = ((batch * q_len + query) * heads + head) * HEAD_DIM;
        for (var d = 0u; d < HEAD_VEC4S; d++) {
            let value = acc[d] * inverse;
            let at = out_base + 4u * d;
            out[at] = value.x;
            out[at + 1u] = value.y;
            out[at + 2u] = value.z;
            out[at + 3u] = value.w;
        }
    }
}
