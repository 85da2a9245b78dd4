//! Pillow's BICUBIC resampler, ported bit for bit.

use std::ops::Range;

use image::RgbImage;

/// Fractional bits of Pillow's 8-bit resampling coefficients: 32 bits less 8
/// for the sample and 2 for the filter's overshoot and the sign.
const PRECISION_BITS: u32 = 32 - 8 - 2;

/// Keys' cubic convolution kernel with a = -0.5, Pillow's `bicubic_filter`.
#[inline]
fn bicubic_kernel(x: f64) -> f64 {
    const A: f64 = -0.5;
    let x = x.abs();
    if x < 1.0 {
        ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * A
    } else {
        0.0
    }
}

/// Fixed-point filter taps for some outputs of one axis: the `i`-th output
/// of the range reads `len[i]` input samples from `first[i]`, weighted by
/// `taps[i * stride..]`.
struct Taps {
    stride: usize,
    first: Vec<usize>,
    len: Vec<usize>,
    taps: Vec<i32>,
}

impl Taps {
    /// The input samples that the outputs read.
    fn span(&self) -> Range<usize> {
        let lo = self.first.iter().copied().min().unwrap_or(0);
        let hi = self.first.iter().zip(&self.len).map(|(f, l)| f + l).max();
        lo..hi.unwrap_or(lo)
    }
}

/// Pillow's `precompute_coeffs` + `normalize_coeffs_8bpc` for BICUBIC from
/// `in_size` to `out_size` samples (the whole input as the box), for the
/// outputs in `outputs` only.
fn bicubic_taps(in_size: u32, out_size: u32, outputs: Range<u32>) -> Taps {
    const SUPPORT: f64 = 2.0;
    // Pillow holds the box in f32; (in1 - in0) is exact for any u32 < 2^24.
    let scale = f64::from(in_size as f32) / f64::from(out_size);
    let filter_scale = scale.max(1.0);
    let support = SUPPORT * filter_scale;
    let stride = support.ceil() as usize * 2 + 1;
    let inv = 1.0 / filter_scale;
    let n = outputs.len();
    let mut first = Vec::with_capacity(n);
    let mut len = Vec::with_capacity(n);
    let mut taps = vec![0i32; n * stride];
    let mut weights = vec![0f64; stride];
    for (i, out) in outputs.zip(taps.chunks_exact_mut(stride)) {
        let center = (f64::from(i) + 0.5) * scale;
        // C casts truncate toward zero; a negative start is clamped anyway.
        let lo = ((center - support + 0.5) as i64).max(0);
        let hi = ((center + support + 0.5) as i64).min(i64::from(in_size));
        let count = (hi - lo).clamp(0, stride as i64) as usize;
        let mut total = 0.0;
        for (j, w) in weights.iter_mut().take(count).enumerate() {
            *w = bicubic_kernel(((j as i64 + lo) as f64 - center + 0.5) * inv);
            total += *w;
        }
        for (w, t) in weights.iter().take(count).zip(out.iter_mut()) {
            let k = if total != 0.0 { *w / total } else { *w };
            let fixed = k * f64::from(1u32 << PRECISION_BITS);
            // Round half away from zero, then truncate like the C cast.
            *t = if k < 0.0 {
                (-0.5 + fixed) as i32
            } else {
                (0.5 + fixed) as i32
            };
        }
        first.push(lo as usize);
        len.push(count);
    }
    Taps {
        stride,
        first,
        len,
        taps,
    }
}

/// Pillow's `clip8`: drop the fraction (arithmetic shift) and saturate.
#[inline]
fn clip8(acc: i32) -> u8 {
    (acc >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Pillow starts each sum at one half, so that `clip8` rounds.
const ROUNDING: i32 = 1 << (PRECISION_BITS - 1);

/// Horizontal pass: rows `rows` of `src` (RGB, `src_w` wide), one output
/// column per entry of `taps`. The sums wrap like Pillow's C `int`s.
fn horizontal_pass(src: &[u8], src_w: usize, rows: Range<usize>, taps: &Taps) -> Vec<u8> {
    let out_w = taps.first.len();
    let mut out = vec![0u8; out_w * rows.len() * 3];
    for (y, out_row) in rows.zip(out.chunks_exact_mut(out_w * 3)) {
        let in_row = &src[y * src_w * 3..(y + 1) * src_w * 3];
        for (x, px) in out_row.chunks_exact_mut(3).enumerate() {
            let k = &taps.taps[x * taps.stride..x * taps.stride + taps.len[x]];
            let start = taps.first[x] * 3;
            let mut acc = [ROUNDING; 3];
            for (p, &kj) in in_row[start..].chunks_exact(3).zip(k) {
                for (a, &v) in acc.iter_mut().zip(p) {
                    *a = a.wrapping_add(i32::from(v).wrapping_mul(kj));
                }
            }
            px.copy_from_slice(&acc.map(clip8));
        }
    }
    out
}

/// Vertical pass: columns `cols` of `src` (RGB, `src_w` wide, its first row
/// being input row `row0`), one output row per entry of `taps`.
fn vertical_pass(
    src: &[u8],
    src_w: usize,
    cols: Range<usize>,
    row0: usize,
    taps: &Taps,
) -> Vec<u8> {
    let out_w = cols.len();
    let mut out = vec![0u8; out_w * taps.first.len() * 3];
    let mut acc = vec![0i32; out_w * 3];
    for (y, out_row) in out.chunks_exact_mut(out_w * 3).enumerate() {
        let k = &taps.taps[y * taps.stride..y * taps.stride + taps.len[y]];
        acc.fill(ROUNDING);
        for (j, &kj) in k.iter().enumerate() {
            let row = (taps.first[y] + j - row0) * src_w;
            let in_row = &src[(row + cols.start) * 3..(row + cols.end) * 3];
            for (a, &v) in acc.iter_mut().zip(in_row) {
                *a = a.wrapping_add(i32::from(v).wrapping_mul(kj));
            }
        }
        for (o, &a) in out_row.iter_mut().zip(&acc) {
            *o = clip8(a);
        }
    }
    out
}

/// Pillow's `ImagingResampleInner` (BICUBIC, 8-bit RGB, whole source box)
/// from `sw`×`sh` to `dw`×`dh`, computing only output columns `xs` of rows
/// `ys`: a horizontal pass first over the input rows that the vertical pass
/// reads, then the vertical pass; a pass whose size does not change is
/// skipped. Every output pixel depends only on its own taps, so the region
/// equals the same crop of the whole result.
fn resample_region(
    src: &[u8],
    (sw, sh): (u32, u32),
    (dw, dh): (u32, u32),
    xs: Range<u32>,
    ys: Range<u32>,
) -> Vec<u8> {
    let cols = xs.start as usize..xs.end as usize;
    let rows = ys.start as usize..ys.end as usize;
    match (dw != sw, dh != sh) {
        (false, false) => {
            let w = sw as usize;
            rows.flat_map(|y| &src[(y * w + cols.start) * 3..(y * w + cols.end) * 3])
                .copied()
                .collect()
        }
        (true, false) => horizontal_pass(src, sw as usize, rows, &bicubic_taps(sw, dw, xs)),
        (false, true) => vertical_pass(src, sw as usize, cols, 0, &bicubic_taps(sh, dh, ys)),
        (true, true) => {
            let vtaps = bicubic_taps(sh, dh, ys);
            let span = vtaps.span();
            let row0 = span.start;
            let htaps = bicubic_taps(sw, dw, xs.clone());
            let tmp = horizontal_pass(src, sw as usize, span, &htaps);
            vertical_pass(&tmp, xs.len(), 0..xs.len(), row0, &vtaps)
        }
    }
}

/// Region `xs`×`ys` of `img` resized to `width`×`height` by Pillow's
/// `Image.resize`, which sends images more than 100 times taller than wide
/// that get shorter through a vertical-only resize and then a
/// horizontal-only one.
pub(super) fn resize_region(
    img: &RgbImage,
    width: u32,
    height: u32,
    xs: Range<u32>,
    ys: Range<u32>,
) -> Vec<u8> {
    let (sw, sh) = img.dimensions();
    if u64::from(sh) > u64::from(sw) * 100 && height < sh {
        let rows = ys.len() as u32;
        let tall = resample_region(img.as_raw(), (sw, sh), (sw, height), 0..sw, ys);
        resample_region(&tall, (sw, rows), (width, rows), xs, 0..rows)
    } else {
        resample_region(img.as_raw(), (sw, sh), (width, height), xs, ys)
    }
}

/// Pillow's `Image.resize((width, height), Image.BICUBIC)` for 8-bit RGB,
/// bit for bit: the same fixed-point taps (22 fractional bits, rounded away
/// from zero), the same pass order with an 8-bit intermediate, the same
/// rounding and clipping, and the same vertical-first route for images more
/// than 100 times taller than wide.
pub fn resize_bicubic_pil(img: &RgbImage, width: u32, height: u32) -> RgbImage {
    let (sw, sh) = img.dimensions();
    if (sw, sh) == (width, height) {
        return img.clone();
    }
    if sw == 0 || sh == 0 || width == 0 || height == 0 {
        return RgbImage::new(width, height);
    }
    let data = resize_region(img, width, height, 0..width, 0..height);
    RgbImage::from_raw(width, height, data).expect("buffer size matches dimensions")
}
