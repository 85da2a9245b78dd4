//! The CPU's matrix product for the model's linear layers: `x · W + b` with
//! `W` packed once, when the weights load, into column panels that the
//! inner loop reads front to back.
//!
//! Why not Burn's CPU matmul: a linear layer on one image is a short, wide
//! product (50 rows against 768 × 3072 weights), and a general GEMM repacks
//! the weights on every call and splits rows, not columns, across threads.
//! Here the weights are packed once, each thread takes its own columns, and
//! the tile kernel is plain Rust the compiler vectorises for the best
//! instructions the machine has (AVX-512 or AVX2 with FMA, chosen at run
//! time; WebAssembly SIMD in the browser build).

/// `W` (`k` inputs × `n` outputs) as panels of `width` output columns; each
/// panel is `k` rows of `width` values, the last one padded with zeros.
pub struct PackedMatrix {
    k: usize,
    n: usize,
    /// The kernel the panels are laid out for.
    isa: Isa,
    panels: Vec<f32>,
    bias: Option<Vec<f32>>,
}

/// The shape, not the millions of values (a model's `Debug` shows this).
impl std::fmt::Debug for PackedMatrix {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.debug_struct("PackedMatrix")
            .field("inputs", &self.k)
            .field("outputs", &self.n)
            .field("isa", &self.isa)
            .field("bias", &self.bias.is_some())
            .finish()
    }
}

impl PackedMatrix {
    /// Packs a torch `nn.Linear`'s weight, stored `[n, k]` (out, in), and its
    /// bias of `n`.
    pub fn from_out_in(weight: &[f32], n: usize, k: usize, bias: Option<Vec<f32>>) -> Self {
        Self::for_isa(Isa::detect(), weight, n, k, bias)
    }

    fn for_isa(isa: Isa, weight: &[f32], n: usize, k: usize, bias: Option<Vec<f32>>) -> Self {
        assert_eq!(weight.len(), n * k, "weight is [n, k]");
        assert!(bias.as_ref().is_none_or(|b| b.len() == n), "bias is [n]");
        let width = isa.panel_width();
        let panel_count = n.div_ceil(width);
        let mut panels = vec![0.0; panel_count * k * width];
        for (col, row) in weight.chunks_exact(k).enumerate() {
            let (panel, lane) = (col / width, col % width);
            let base = panel * k * width + lane;
            for (i, &w) in row.iter().enumerate() {
                panels[base + i * width] = w;
            }
        }
        Self {
            k,
            n,
            isa,
            panels,
            bias,
        }
    }

    pub fn inputs(&self) -> usize {
        self.k
    }

    pub fn outputs(&self) -> usize {
        self.n
    }

    /// `then(x · W + b)` for `x` of `m` rows of `k`, as `m` rows of `n`.
    pub fn apply(&self, x: &[f32], then: Then) -> Vec<f32> {
        let [out] = Self::apply_each([self], x, then);
        out
    }

    /// [`PackedMatrix::apply`] for several matrices of the same inputs and
    /// kernel (a layer's queries, keys and values) in one pass: `x` is
    /// rearranged once and the threads meet once.
    pub fn apply_each<const N: usize>(
        matrices: [&Self; N],
        x: &[f32],
        then: Then,
    ) -> [Vec<f32>; N] {
        let (k, isa) = (matrices[0].k, matrices[0].isa);
        assert!(
            matrices.iter().all(|p| p.k == k && p.isa == isa),
            "same inputs and kernel"
        );
        assert_eq!(x.len() % k, 0, "x has rows of k");
        let m = x.len() / k;
        if m == 0 {
            return matrices.map(|_| Vec::new());
        }
        let x = interleave_rows(x, k, isa.tile_rows());
        // Every value is written once by its tile: no need to zero it first.
        let mut outs = matrices.map(|p| Vec::<f32>::with_capacity(m * p.n));
        let out_ptrs: Vec<SharedOut> = outs.iter_mut().map(|o| SharedOut(o.as_mut_ptr())).collect();
        // The panels of all matrices, numbered one after the other.
        let panels: Vec<(usize, usize)> = matrices
            .iter()
            .enumerate()
            .flat_map(|(i, p)| (0..p.n.div_ceil(p.isa.panel_width())).map(move |panel| (i, panel)))
            .collect();
        let run = |range: std::ops::Range<usize>| {
            // Each call writes only the columns of its own panels.
            for &(i, panel) in &panels[range] {
                matrices[i].panel(&x, m, panel, then, out_ptrs[i].0);
            }
        };
        let flops = matrices.iter().map(|p| m * k * p.n).sum();
        run_split(panels.len(), flops, run);
        for (out, p) in outs.iter_mut().zip(matrices) {
            // SAFETY: the tiles of all panels cover every row and column.
            unsafe { out.set_len(m * p.n) };
        }
        outs
    }

    /// Columns `panel · width ..` of every row of the output; `x` as
    /// [`interleave_rows`] gives it.
    fn panel(&self, x: &[f32], m: usize, panel: usize, then: Then, out: *mut f32) {
        let isa = self.isa;
        let (k, tile_rows, width) = (self.k, isa.tile_rows(), isa.panel_width());
        let b = &self.panels[panel * k * width..(panel + 1) * k * width];
        let col0 = panel * width;
        let cols = width.min(self.n - col0);
        let bias = self.bias.as_ref().map(|bias| &bias[col0..col0 + cols]);
        // The next panel is fetched while this one computes, each row tile
        // asking for its own share, spread over its steps: one burst would
        // overrun the memory's queue.
        let next = self.panels[((panel + 1) * k * width).min(self.panels.len())..].as_ptr();
        let share = (k * width).div_ceil(m.div_ceil(tile_rows));
        for (t, row0) in (0..m).step_by(tile_rows).enumerate() {
            let tile = Tile {
                x: &x[row0 * k..(row0 + tile_rows) * k],
                k,
                b,
                prefetch: next.wrapping_add(t * share),
                prefetch_rate: (share << 16) / k,
                bias,
                then,
                out: out.wrapping_add(row0 * self.n + col0),
                out_stride: self.n,
                rows: tile_rows.min(m - row0),
                cols,
            };
            isa.run(&tile);
        }
    }
}

/// `x`'s rows in groups of `tile_rows`, each group stored column by column
/// (the group's first values, then their second values, ...), the last group
/// padded with zeros: a tile then reads its rows from one pointer.
fn interleave_rows(x: &[f32], k: usize, tile_rows: usize) -> Vec<f32> {
    let m = x.len() / k;
    let mut out = vec![0.0; m.div_ceil(tile_rows) * tile_rows * k];
    for (row, values) in x.chunks_exact(k).enumerate() {
        let group = &mut out[(row / tile_rows) * tile_rows * k..];
        for (i, &value) in values.iter().enumerate() {
            group[i * tile_rows + row % tile_rows] = value;
        }
    }
    out
}

/// One tile: [`Isa::tile_rows`] rows of `x` (interleaved) against one panel.
struct Tile<'a> {
    x: &'a [f32],
    k: usize,
    b: &'a [f32],
    /// This tile's share of the next panel, and how far into it to prefetch
    /// per step (floats, 16.16 fixed point).
    prefetch: *const f32,
    prefetch_rate: usize,
    bias: Option<&'a [f32]>,
    then: Then,
    out: *mut f32,
    out_stride: usize,
    /// Rows to store (the rest are padding).
    rows: usize,
    cols: usize,
}

/// What the sums go through on their way out, while they are in cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Then {
    Nothing,
    /// `x · sigmoid(1.702 x)`, OpenAI CLIP's activation.
    QuickGelu,
}

/// `e^x` for `x` in `[-87, 88]` (clamped there), within 3 ulp: `2^n · e^r`
/// with `n` the nearest integer to `x / ln 2` and a degree-6 polynomial for
/// `e^r`. Plain arithmetic the compiler vectorises, unlike a `libm` call.
#[inline(always)]
fn exp(x: f32) -> f32 {
    const ROUND: f32 = 12_582_912.0; // 1.5 · 2^23: adding it rounds to an integer
    const LN2_HIGH: f32 = 0.693_145_75;
    const LN2_LOW: f32 = 1.428_606_8e-6;
    let x = x.clamp(-87.0, 88.0);
    let n = (x * std::f32::consts::LOG2_E + ROUND) - ROUND;
    let r = x - n * LN2_HIGH - n * LN2_LOW;
    let p = 1.0
        + r * (1.0
            + r * (1.0 / 2.0
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    // SAFETY: `n` is an integer in [-126, 127] after the clamp.
    let n: i32 = unsafe { n.to_int_unchecked() };
    p * f32::from_bits(((n + 127) << 23) as u32)
}

impl Then {
    #[inline(always)]
    fn apply(self, values: &mut [f32]) {
        match self {
            Then::Nothing => {}
            Then::QuickGelu => {
                for v in values {
                    *v /= 1.0 + exp(-1.702 * *v);
                }
            }
        }
    }
}

/// The instruction sets the tile kernel is compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Isa {
    #[cfg(target_arch = "x86_64")]
    Avx512,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    /// WebAssembly SIMD in the browser build, plain arrays elsewhere.
    Portable,
}

impl Isa {
    fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            use std::sync::OnceLock;
            static ISA: OnceLock<Isa> = OnceLock::new();
            *ISA.get_or_init(|| {
                if is_x86_feature_detected!("avx512f") {
                    Isa::Avx512
                } else if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                    Isa::Avx2
                } else {
                    Isa::Portable
                }
            })
        }
        #[cfg(not(target_arch = "x86_64"))]
        Isa::Portable
    }

    /// Rows of `x` a tile computes.
    fn tile_rows(self) -> usize {
        self.tile().0
    }

    /// Output columns per panel.
    fn panel_width(self) -> usize {
        self.tile().1
    }

    /// A tile's rows and columns: as many sums as the registers hold beside
    /// a panel row and a broadcast value, shaped by measurement: 8 rows × 2
    /// vectors on AVX-512's 32 registers, 6 × 2 on AVX2's 16, PORTABLE_TILE
    /// in the browser.
    fn tile(self) -> (usize, usize) {
        match self {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => (8, 2 * x86::Avx512::LANES),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => (6, 2 * x86::Avx2::LANES),
            Isa::Portable => (PORTABLE_TILE.0, PORTABLE_TILE.1 * Portable::LANES),
        }
    }

    fn run(self, tile: &Tile) {
        match self {
            // SAFETY: `detect` saw these features on this CPU.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => unsafe { x86::tile_avx512(tile) },
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => unsafe { x86::tile_avx2(tile) },
            Isa::Portable => {
                tile_kernel::<Portable, { PORTABLE_TILE.0 }, { PORTABLE_TILE.1 }>(tile)
            }
        }
    }
}

/// Rows, and vectors per row, of the portable tile.
const PORTABLE_TILE: (usize, usize) = (4, 3);

/// The few vector operations the tile kernel needs, on one register type.
trait Vector: Copy {
    const LANES: usize;
    /// `[x; LANES]`.
    fn splat(x: f32) -> Self;
    /// `[*at; LANES]`.
    #[inline(always)]
    unsafe fn load_splat(at: *const f32) -> Self {
        Self::splat(unsafe { *at })
    }
    /// Reads `LANES` floats at `values`.
    unsafe fn load(values: *const f32) -> Self;
    /// `self + a · b`, fused where the instruction set has it.
    fn mul_add(self, a: Self, b: Self) -> Self;
    /// Writes `LANES` floats at `out`.
    unsafe fn store(self, out: *mut f32);
    /// Asks for the cache line at `at` ahead of its use, where there is an
    /// instruction for that.
    #[inline(always)]
    fn prefetch(_at: *const f32) {}
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Tile, Vector, tile_kernel};
    use std::arch::x86_64::*;

    /// A [`Vector`] over one x86 register type and its intrinsics.
    macro_rules! x86_vector {
        ($name:ident, $register:ty, $lanes:literal,
         $set1:ident, $loadu:ident, $fmadd:ident, $storeu:ident) => {
            #[derive(Clone, Copy)]
            pub struct $name($register);

            // SAFETY (all): only reached through the `tile_*` function built
            // for these features, which runs where `Isa::detect` saw them.
            impl Vector for $name {
                const LANES: usize = $lanes;
                #[inline(always)]
                fn splat(x: f32) -> Self {
                    Self(unsafe { $set1(x) })
                }
                #[inline(always)]
                unsafe fn load(values: *const f32) -> Self {
                    Self(unsafe { $loadu(values) })
                }
                #[inline(always)]
                fn mul_add(self, a: Self, b: Self) -> Self {
                    Self(unsafe { $fmadd(a.0, b.0, self.0) })
                }
                #[inline(always)]
                unsafe fn store(self, out: *mut f32) {
                    unsafe { $storeu(out, self.0) }
                }
                #[inline(always)]
                fn prefetch(at: *const f32) {
                    // SAFETY: a prefetch never faults, whatever the address.
                    unsafe { _mm_prefetch::<_MM_HINT_T1>(at.cast()) }
                }
            }
        };
    }

    x86_vector!(
        Avx512,
        __m512,
        16,
        _mm512_set1_ps,
        _mm512_loadu_ps,
        _mm512_fmadd_ps,
        _mm512_storeu_ps
    );
    x86_vector!(
        Avx2,
        __m256,
        8,
        _mm256_set1_ps,
        _mm256_loadu_ps,
        _mm256_fmadd_ps,
        _mm256_storeu_ps
    );

    #[target_feature(enable = "avx512f,fma")]
    pub unsafe fn tile_avx512(tile: &Tile) {
        tile_kernel::<Avx512, 8, 2>(tile)
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn tile_avx2(tile: &Tile) {
        tile_kernel::<Avx2, 6, 2>(tile)
    }
}

/// WebAssembly's 128-bit SIMD (no fused multiply-add there).
#[cfg(all(target_family = "wasm", target_feature = "simd128"))]
#[derive(Clone, Copy)]
struct Portable(std::arch::wasm32::v128);

#[cfg(all(target_family = "wasm", target_feature = "simd128"))]
impl Vector for Portable {
    const LANES: usize = 4;
    #[inline(always)]
    fn splat(x: f32) -> Self {
        Self(std::arch::wasm32::f32x4_splat(x))
    }
    #[inline(always)]
    unsafe fn load(values: *const f32) -> Self {
        Self(unsafe { std::arch::wasm32::v128_load(values.cast()) })
    }
    #[inline(always)]
    unsafe fn load_splat(at: *const f32) -> Self {
        Self(unsafe { std::arch::wasm32::v128_load32_splat(at.cast()) })
    }
    #[inline(always)]
    fn mul_add(self, a: Self, b: Self) -> Self {
        use std::arch::wasm32::{f32x4_add, f32x4_mul};
        Self(f32x4_add(self.0, f32x4_mul(a.0, b.0)))
    }
    #[inline(always)]
    unsafe fn store(self, out: *mut f32) {
        unsafe { std::arch::wasm32::v128_store(out.cast(), self.0) }
    }
}

/// Four lanes of plain floats, for other CPUs (the compiler may vectorise).
#[cfg(not(all(target_family = "wasm", target_feature = "simd128")))]
#[derive(Clone, Copy)]
struct Portable([f32; 4]);

#[cfg(not(all(target_family = "wasm", target_feature = "simd128")))]
impl Vector for Portable {
    const LANES: usize = 4;
    #[inline(always)]
    fn splat(x: f32) -> Self {
        Self([x; 4])
    }
    #[inline(always)]
    unsafe fn load(values: *const f32) -> Self {
        Self(std::array::from_fn(|i| unsafe { *values.add(i) }))
    }
    #[inline(always)]
    fn mul_add(self, a: Self, b: Self) -> Self {
        Self(std::array::from_fn(|i| self.0[i] + a.0[i] * b.0[i]))
    }
    #[inline(always)]
    unsafe fn store(self, out: *mut f32) {
        for (i, &value) in self.0.iter().enumerate() {
            unsafe { *out.add(i) = value };
        }
    }
}

/// Accumulates `R` rows × `N` vectors of outputs in registers over all of
/// `k`. (Slicing `k` to keep the panel in L1 measured slower here: the
/// prefetcher streams a panel well.)
#[inline(always)]
fn tile_kernel<V: Vector, const R: usize, const N: usize>(tile: &Tile) {
    let k = tile.k;
    let width = N * V::LANES;
    assert_eq!(tile.x.len(), k * R, "the tile's rows, interleaved");
    assert_eq!(tile.b.len(), k * width, "the panel holds k rows");
    let (mut a, mut b) = (tile.x.as_ptr(), tile.b.as_ptr());
    let mut acc = [[V::splat(0.0); N]; R];
    for step in 0..k {
        // SAFETY: k steps of R and of `width` stay inside `x` and the panel
        // (asserted above). (`wrapping_add`: `add`'s own checks, on in
        // debug builds, would cost more than the products here.)
        unsafe {
            let row: [V; N] = std::array::from_fn(|j| V::load(b.wrapping_add(j * V::LANES)));
            V::prefetch(
                tile.prefetch
                    .wrapping_add((step * tile.prefetch_rate) >> 16),
            );
            for (r, acc) in acc.iter_mut().enumerate() {
                let a = V::load_splat(a.wrapping_add(r));
                for j in 0..N {
                    acc[j] = acc[j].mul_add(a, row[j]);
                }
            }
            a = a.wrapping_add(R);
            b = b.wrapping_add(width);
        }
    }
    for (r, acc) in acc.iter().enumerate().take(tile.rows) {
        let mut values = [0.0f32; 64];
        for (j, acc) in acc.iter().enumerate() {
            // SAFETY: `values` holds the row (a panel is at most 64 wide).
            unsafe { acc.store(values.as_mut_ptr().add(j * V::LANES)) };
        }
        let values = &mut values[..tile.cols];
        if let Some(bias) = tile.bias {
            for (v, b) in values.iter_mut().zip(bias) {
                *v += b;
            }
        }
        tile.then.apply(values);
        // SAFETY: row `r` of this tile inside the output, whose columns no
        // other thread writes.
        unsafe {
            let out = tile.out.add(r * tile.out_stride);
            std::ptr::copy_nonoverlapping(values.as_ptr(), out, values.len());
        }
    }
}

/// The output buffer, written by several threads at disjoint columns.
struct SharedOut(*mut f32);
// SAFETY: every writer owns a disjoint set of panels (columns).
unsafe impl Sync for SharedOut {}

/// Runs `work` over `0..count` panels: split across the thread pool when the
/// product is big enough to pay for it (natively), in one piece otherwise.
fn run_split(count: usize, flops: usize, work: impl Fn(std::ops::Range<usize>) + Sync) {
    #[cfg(not(target_family = "wasm"))]
    {
        let threads = rayon::current_num_threads().min(count);
        if threads > 1 && flops >= 1 << 20 {
            let per = count.div_ceil(threads);
            rayon::scope(|s| {
                for start in (per..count).step_by(per) {
                    let work = &work;
                    s.spawn(move |_| work(start..(start + per).min(count)));
                }
                work(0..per.min(count));
            });
            return;
        }
    }
    let _ = flops;
    work(0..count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(
        x: &[f32],
        w_out_in: &[f32],
        bias: &[f32],
        m: usize,
        k: usize,
        n: usize,
    ) -> Vec<f32> {
        let mut out = vec![0.0f64; m * n];
        for r in 0..m {
            for c in 0..n {
                let mut sum = bias[c] as f64;
                for i in 0..k {
                    sum += x[r * k + i] as f64 * w_out_in[c * k + i] as f64;
                }
                out[r * n + c] = sum;
            }
        }
        out.into_iter().map(|v| v as f32).collect()
    }

    /// Every kernel this CPU can run, the portable one included.
    fn available() -> Vec<Isa> {
        let mut isas = vec![Isa::Portable];
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                isas.push(Isa::Avx2);
            }
            if is_x86_feature_detected!("avx512f") {
                isas.push(Isa::Avx512);
            }
        }
        isas
    }

    #[test]
    fn exp_is_within_three_ulp() {
        for i in -8700..=8800 {
            let x = i as f32 / 100.0;
            let (got, want) = (exp(x), (x as f64).exp());
            let ulp = (want as f32).to_bits().abs_diff(got.to_bits());
            assert!(ulp <= 3, "exp({x}) = {got}, want {want}");
        }
        assert_eq!(exp(-1e30), exp(-87.0));
        assert!(exp(1e30).is_finite());
    }

    #[test]
    fn quick_gelu_follows_the_product() {
        let (m, k, n) = (9, 40, 70);
        let x: Vec<f32> = (0..m * k)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 25.0)
            .collect();
        let w: Vec<f32> = (0..n * k)
            .map(|i| ((i * 53 % 97) as f32 - 48.0) / 60.0)
            .collect();
        let bias: Vec<f32> = (0..n).map(|i| i as f32 / 35.0 - 1.0).collect();
        let packed = PackedMatrix::from_out_in(&w, n, k, Some(bias.clone()));
        let got = packed.apply(&x, Then::QuickGelu);
        for (g, h) in got.iter().zip(reference(&x, &w, &bias, m, k, n)) {
            let want = h as f64 / (1.0 + (-1.702 * h as f64).exp());
            assert!(
                (*g as f64 - want).abs() <= 1e-5 * (1.0 + want.abs()),
                "{g} vs {want}"
            );
        }
    }

    /// Odd sizes: partial row tiles and a partial last panel.
    #[test]
    fn matches_a_plain_product() {
        for (m, k, n) in [
            (0, 5, 7),
            (1, 3, 1),
            (7, 33, 45),
            (50, 64, 100),
            (13, 200, 40),
        ] {
            let value =
                |i: usize, salt: usize| ((i * 7919 + salt * 104729) % 2001) as f32 / 1000.0 - 1.0;
            let x: Vec<f32> = (0..m * k).map(|i| value(i, 1)).collect();
            let w: Vec<f32> = (0..n * k).map(|i| value(i, 2)).collect();
            let bias: Vec<f32> = (0..n).map(|i| value(i, 3)).collect();
            let want = reference(&x, &w, &bias, m, k, n);
            for isa in available() {
                let packed = PackedMatrix::for_isa(isa, &w, n, k, Some(bias.clone()));
                let got = packed.apply(&x, Then::Nothing);
                for (g, w) in got.iter().zip(&want) {
                    let close = (g - w).abs() <= 1e-4 * (1.0 + w.abs());
                    assert!(close, "{isa:?} {m}x{k}x{n}: {g} vs {w}");
                }
            }
        }
    }
}
