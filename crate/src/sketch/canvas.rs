//! The sheet: paper, anti-aliased pen coverage, and blending ink onto it.

use std::f32::consts::TAU;

use image::{Rgb, RgbImage};

use super::geometry::*;
use super::pen::Wobble;
use crate::rng::{Rng, mix64};

/// A value in `[0, 1)` fixed by a pixel and a seed, for paper grain.
pub(super) fn hash01(x: usize, y: usize, seed: u64) -> f32 {
    let z = mix64(seed ^ (((x as u64) << 32) | y as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    (z >> 40) as f32 * (1.0 / (1u32 << 24) as f32)
}

/// RGB sheet plus a coverage mask for the stroke being drawn, so that one
/// stroke's overlapping pieces do not darken each other.
pub(super) struct Canvas {
    pub(super) size: usize,
    pub(super) rgb: Vec<[f32; 3]>,
    pub(super) mask: Vec<f32>,
    /// Pixel box of the mask's non-zero part: x0, y0, x1, y1 (exclusive).
    pub(super) dirty: [usize; 4],
}

impl Canvas {
    pub(super) fn new(size: usize) -> Self {
        Canvas {
            size,
            rgb: vec![[1.0; 3]; size * size],
            mask: vec![0.0; size * size],
            dirty: [size, size, 0, 0],
        }
    }

    /// Pixels that may touch the box `lo..hi`, marked dirty; None if none.
    pub(super) fn claim(&mut self, lo: V2, hi: V2) -> Option<[usize; 4]> {
        let n = self.size as f32;
        let x0 = lo.x.floor().clamp(0.0, n) as usize;
        let y0 = lo.y.floor().clamp(0.0, n) as usize;
        let x1 = hi.x.ceil().clamp(0.0, n) as usize;
        let y1 = hi.y.ceil().clamp(0.0, n) as usize;
        if x0 >= x1 || y0 >= y1 {
            return None;
        }
        let d = &mut self.dirty;
        *d = [d[0].min(x0), d[1].min(y0), d[2].max(x1), d[3].max(y1)];
        Some([x0, y0, x1, y1])
    }

    /// Covers a capsule from `a` to `b` whose radius goes from `ra` to `rb`,
    /// anti-aliased by the distance from each pixel centre.
    pub(super) fn segment(&mut self, a: V2, b: V2, ra: f32, rb: f32) {
        let pad = ra.max(rb) + 1.0;
        let Some([x0, y0, x1, y1]) = self.claim(a.min(b) - v(pad, pad), a.max(b) + v(pad, pad))
        else {
            return;
        };
        let ab = b - a;
        let l2 = ab.dot(ab);
        let inv = if l2 > 1e-9 { 1.0 / l2 } else { 0.0 };
        for y in y0..y1 {
            let row = &mut self.mask[y * self.size..(y + 1) * self.size];
            for (x, m) in row.iter_mut().enumerate().take(x1).skip(x0) {
                let ap = v(x as f32 + 0.5, y as f32 + 0.5) - a;
                let t = (ap.dot(ab) * inv).clamp(0.0, 1.0);
                let d = (ap - ab * t).len();
                let r = ra + (rb - ra) * t;
                // Hairlines thinner than a pixel fade instead of vanishing.
                let cover = (r + 0.5 - d).clamp(0.0, 1.0) * (2.0 * r).min(1.0);
                *m = m.max(cover);
            }
        }
    }

    /// Covers the inside of a closed polygon (even-odd), anti-aliased along
    /// rows; the outline drawn over it hides its top and bottom edges.
    pub(super) fn polygon(&mut self, pts: &[V2]) {
        let lo = pts.iter().fold(v(f32::MAX, f32::MAX), |a, &p| a.min(p));
        let hi = pts.iter().fold(v(f32::MIN, f32::MIN), |a, &p| a.max(p));
        let Some([x0, y0, x1, y1]) = self.claim(lo, hi) else {
            return;
        };
        let mut xs = Vec::new();
        for y in y0..y1 {
            let yc = y as f32 + 0.5;
            xs.clear();
            for (i, &p) in pts.iter().enumerate() {
                let q = pts[(i + 1) % pts.len()];
                if (p.y <= yc) != (q.y <= yc) {
                    xs.push(p.x + (yc - p.y) * (q.x - p.x) / (q.y - p.y));
                }
            }
            xs.sort_by(f32::total_cmp);
            let row = &mut self.mask[y * self.size..(y + 1) * self.size];
            for span in xs.chunks_exact(2) {
                let (a, b) = (span[0], span[1]);
                let from = (a.floor().max(x0 as f32)) as usize;
                let to = (b.ceil().min(x1 as f32)) as usize;
                for (x, m) in row.iter_mut().enumerate().take(to).skip(from) {
                    let cover = (b.min(x as f32 + 1.0) - a.max(x as f32)).clamp(0.0, 1.0);
                    *m = m.max(cover);
                }
            }
        }
    }

    /// Draws a stroke along `pts` (pixels) with pen radius `r`.
    pub(super) fn stroke(&mut self, pts: &[V2], r: f32, wobble: &Wobble, px: f32) {
        let total = polyline_len(pts);
        // Pens touch down and lift off a little thinner.
        let taper = (0.025 * px).min(total * 0.25).max(1e-3);
        let mut prev: Option<(V2, f32)> = None;
        wobble.trace(pts, px, 1.5, |p, s| {
            let end = s.min(total - s).max(0.0);
            let rr = r * wobble.pressure(s / px) * (0.6 + 0.4 * (end / taper).min(1.0));
            // The first sample is a dot of its own, so one-point strokes show.
            let (q, qr) = prev.unwrap_or((p, rr));
            self.segment(q, p, qr, rr);
            prev = Some((p, rr));
        });
    }

    /// Blends `colour` over the sheet where the mask is set, then clears it.
    pub(super) fn paint(&mut self, colour: [f32; 3], opacity: f32, grain: f32, seed: u64) {
        let [x0, y0, x1, y1] = self.dirty;
        for y in y0..y1 {
            for x in x0..x1 {
                let i = y * self.size + x;
                let m = self.mask[i];
                if m <= 0.0 {
                    continue;
                }
                self.mask[i] = 0.0;
                let mut a = m * opacity;
                if grain > 0.0 {
                    a *= 1.0 - grain * hash01(x, y, seed);
                }
                for (c, ink) in self.rgb[i].iter_mut().zip(colour) {
                    *c += (ink - *c) * a;
                }
            }
        }
        self.dirty = [self.size, self.size, 0, 0];
    }

    pub(super) fn into_image(self) -> RgbImage {
        let n = self.size as u32;
        let mut img = RgbImage::new(n, n);
        for (p, c) in img.pixels_mut().zip(&self.rgb) {
            *p = Rgb(c.map(|v| (v.clamp(0.0, 1.0) * 255.0 + 0.5) as u8));
        }
        img
    }
}

/// Off-white paper with a tint, a faint gradient, grain, a few specks and
/// the odd stray mark.
pub(super) fn lay_paper(canvas: &mut Canvas, rng: &mut Rng) {
    let white = if rng.chance(0.3) {
        rng.range(0.98, 1.0)
    } else {
        rng.range(0.92, 0.98)
    };
    let warm = rng.range(-0.01, 0.03);
    let base = [white, white - warm * 0.4, white - warm];
    let grad = [rng.range(-0.025, 0.025), rng.range(-0.025, 0.025)];
    let grain = rng.range(0.005, 0.02);
    let seed = rng.next_u64();
    let n = canvas.size;
    let inv = 1.0 / n.max(1) as f32;
    for y in 0..n {
        for x in 0..n {
            let shade = grad[0] * (x as f32 * inv - 0.5)
                + grad[1] * (y as f32 * inv - 0.5)
                + grain * (hash01(x, y, seed) - 0.5) * 2.0;
            canvas.rgb[y * n + x] = base.map(|b| b + shade);
        }
    }
    let px = n as f32;
    let k = px / 128.0;
    for _ in 0..rng.below(7) {
        let at = v(rng.f32(), rng.f32()) * px;
        let r = rng.range(0.3, 0.9) * k;
        let grey = rng.range(0.3, 0.6);
        canvas.segment(at, at, r, r);
        canvas.paint([grey; 3], rng.range(0.15, 0.35), 0.0, 0);
    }
    for _ in 0..rng.below(3) {
        let a = v(rng.f32(), rng.f32());
        let b = a + polar(rng.range(0.0, TAU), rng.range(0.03, 0.1));
        let grey = rng.range(0.4, 0.7);
        canvas.segment(a * px, b * px, 0.5 * k, 0.3 * k);
        canvas.paint([grey; 3], rng.range(0.08, 0.2), 0.0, 0);
    }
}
