//! How the pen is used for one drawing: colour, width, pressure, wobble,
//! colouring in, strokes that overshoot or stop short.

use std::f32::consts::TAU;

use super::CATEGORIES;
use super::canvas::Canvas;
use super::geometry::*;
use super::placement::Placement;
use super::shapes::{Mark, Shape};
use crate::rng::Rng;

/// Pen colours and their caption words. Black is the usual pen, so it is
/// picked more often than the others.
pub(super) const INKS: [(&str, [u8; 3]); 7] = [
    ("black", [28, 28, 32]),
    ("red", [205, 32, 36]),
    ("blue", [32, 72, 205]),
    ("green", [28, 138, 52]),
    ("orange", [238, 128, 22]),
    ("purple", [128, 46, 168]),
    ("brown", [118, 72, 36]),
];

/// Share of the wide spread's drawings made with a marker: strokes from 8%
/// of the drawing's larger side (the widest pen otherwise) to
/// [`MARKER_WIDEST`], about what the Draw screen's large brush leaves on a
/// drawing in a corner. Without them the model read thick arrows as fish.
const MARKERS: f32 = 0.15;
const MARKER_WIDEST: f32 = 0.15;

/// How the pen is used for one drawing.
pub(super) struct Pen {
    pub(super) ink: usize,
    pub(super) colour: [f32; 3],
    /// Pen radius in units of the sheet side.
    pub(super) radius: f32,
    pub(super) opacity: f32,
    /// Pencil-like breaks in the stroke, 0 for a smooth pen.
    pub(super) grain: f32,
    /// Opacity of the colouring-in, if any.
    pub(super) fill: Option<f32>,
    /// Polygons as separate strokes that cross at the corners.
    pub(super) sketchy: bool,
    /// Every stroke gone over twice.
    pub(super) retrace: bool,
    /// The first closed outline is left open.
    pub(super) unfinished: bool,
    /// Wobble amplitude, in units of the sheet side.
    pub(super) wobble: f32,
}

impl Pen {
    pub(super) fn pick(category: usize, extent: f32, wide: bool, rng: &mut Rng) -> Self {
        let ink = if rng.chance(0.34) {
            0
        } else {
            1 + rng.below(INKS.len() - 1)
        };
        let base = INKS[ink].1;
        let colour = base.map(|c| (c as f32 / 255.0 + rng.range(-0.03, 0.03)).clamp(0.0, 1.0));
        // Pen width in pixels at 128 px: from 2 (1.2 for the wide spread) to
        // 7, thinner for small drawings so that they do not turn into blots,
        // and thin pens more common.
        let thinnest = if wide { 1.2 } else { 2.0 };
        let widest = (extent * 128.0 * 0.08).clamp(2.4, 7.0);
        let u = rng.f32();
        let width = if wide && rng.chance(MARKERS) {
            extent * 128.0 * rng.range(0.08, MARKER_WIDEST)
        } else {
            thinnest + (widest - thinnest) * u * u.sqrt()
        };
        let pencil = rng.chance(0.2);
        let solid_ok = matches!(
            CATEGORIES[category],
            "circle"
                | "square"
                | "triangle"
                | "star"
                | "heart"
                | "moon"
                | "cloud"
                | "arrow"
                | "lightning bolt"
        );
        let fill = if rng.chance(0.2) {
            Some(if solid_ok && rng.chance(0.5) {
                rng.range(0.85, 1.0)
            } else {
                rng.range(0.25, 0.5)
            })
        } else {
            None
        };
        Pen {
            ink,
            colour,
            radius: width * 0.5 / 128.0,
            opacity: if pencil {
                rng.range(0.8, 0.92)
            } else {
                rng.range(0.9, 1.0)
            },
            grain: if pencil { rng.range(0.15, 0.35) } else { 0.0 },
            fill,
            sketchy: rng.chance(0.3),
            retrace: rng.chance(0.12),
            unfinished: rng.chance(0.1),
            wobble: extent * rng.range(0.008, 0.02),
        }
    }

    pub(super) fn ink_shape(
        &self,
        canvas: &mut Canvas,
        shape: &Shape,
        placement: &Placement,
        rng: &mut Rng,
    ) {
        let px = canvas.size as f32;
        let to_px =
            |pts: &[V2]| -> Vec<V2> { pts.iter().map(|&p| placement.map(p) * px).collect() };
        let radius = self.radius * px;
        // Colour in first, so the outlines stay on top.
        if let Some(alpha) = self.fill {
            for mark in &shape.marks {
                // Open parts of the silhouette (a roof, a body under a head)
                // are coloured in as if closed by a straight line.
                if let Mark::Path {
                    pts,
                    fillable: true,
                    ..
                } = mark
                {
                    // Its own wobble: colouring in never quite follows the lines.
                    let wobble = Wobble::new(rng, self.wobble * 1.5);
                    let mut ring = to_px(pts);
                    ring.push(ring[0]);
                    let poly = wobble.trace(&ring, px, 1.5, |_, _| {});
                    canvas.polygon(&poly);
                    canvas.paint(self.colour, alpha, self.grain, rng.next_u64());
                }
            }
        }
        let gap = if self.unfinished {
            shape
                .marks
                .iter()
                .position(|m| matches!(m, Mark::Path { closed: true, .. }))
        } else {
            None
        };
        for (i, mark) in shape.marks.iter().enumerate() {
            match mark {
                Mark::Dot { at, r } => {
                    let c = placement.map(*at) * px;
                    let r = (r * placement.scale * px).max(radius * 1.3);
                    canvas.segment(c, c, r, r);
                    canvas.paint(self.colour, self.opacity, self.grain, rng.next_u64());
                }
                Mark::Path {
                    pts, closed, width, ..
                } => {
                    let pts = to_px(pts);
                    let r = (radius * width).max(0.4 * px / 128.0);
                    let strokes = if !closed {
                        vec![pts]
                    } else if self.sketchy && pts.len() <= 10 && gap != Some(i) {
                        sides(&pts, rng)
                    } else {
                        let over = if gap == Some(i) {
                            -rng.range(0.06, 0.14)
                        } else {
                            rng.range(-0.03, 0.08)
                        };
                        vec![loop_stroke(&pts, rng.below(pts.len()), over)]
                    };
                    for stroke in &strokes {
                        let passes = if self.retrace { 2 } else { 1 };
                        for pass in 0..passes {
                            let k = if pass == 0 { 1.0 } else { 0.75 };
                            let wobble = Wobble::new(rng, self.wobble);
                            canvas.stroke(stroke, r * k, &wobble, px);
                            canvas.paint(self.colour, self.opacity * k, self.grain, rng.next_u64());
                        }
                    }
                }
            }
        }
    }
}

/// A closed polygon drawn in one go from vertex `start`, going `over` of the
/// perimeter too far (or, if negative, stopping that much short).
pub(super) fn loop_stroke(pts: &[V2], start: usize, over: f32) -> Vec<V2> {
    let n = pts.len();
    let mut ring: Vec<V2> = (0..=n).map(|i| pts[(start + i) % n]).collect();
    let perimeter = polyline_len(&ring);
    if over >= 0.0 {
        let extra = cut(&ring, perimeter * over);
        ring.extend_from_slice(&extra[1..]);
        ring
    } else {
        cut(&ring, perimeter * (1.0 + over))
    }
}

/// A closed polygon drawn side by side, each side a little too long or short.
pub(super) fn sides(pts: &[V2], rng: &mut Rng) -> Vec<Vec<V2>> {
    (0..pts.len())
        .map(|i| {
            let (a, b) = (pts[i], pts[(i + 1) % pts.len()]);
            let d = b - a;
            vec![a - d * rng.range(-0.03, 0.1), b + d * rng.range(-0.03, 0.1)]
        })
        .collect()
}

/// The first `len` of a polyline.
pub(super) fn cut(pts: &[V2], len: f32) -> Vec<V2> {
    let mut out = vec![pts[0]];
    let mut left = len;
    for w in pts.windows(2) {
        let d = (w[1] - w[0]).len();
        if d >= left {
            if d > 0.0 {
                out.push(w[0] + (w[1] - w[0]) * (left / d));
            }
            return out;
        }
        left -= d;
        out.push(w[1]);
    }
    out
}

/// Smooth random displacement and pressure along a stroke, as functions of
/// the distance travelled (in units of the sheet side).
pub(super) struct Wobble {
    pub(super) amp: [f32; 3],
    pub(super) freq: [f32; 3],
    pub(super) phase: [f32; 6],
    pub(super) press_freq: f32,
    pub(super) press_phase: f32,
    pub(super) press_amp: f32,
}

impl Wobble {
    pub(super) fn new(rng: &mut Rng, amp: f32) -> Self {
        let wave = [
            rng.range(0.3, 0.7),
            rng.range(0.1, 0.2),
            rng.range(0.035, 0.06),
        ];
        Wobble {
            amp: [amp, amp * 0.3, amp * 0.06],
            freq: wave.map(|w| TAU / w),
            phase: [(); 6].map(|_| rng.range(0.0, TAU)),
            press_freq: TAU / rng.range(0.15, 0.5),
            press_phase: rng.range(0.0, TAU),
            press_amp: rng.range(0.05, 0.25),
        }
    }

    pub(super) fn offset(&self, s: f32) -> V2 {
        let mut d = ORIGIN;
        for k in 0..3 {
            let t = s * self.freq[k];
            d = d + v(sin(t + self.phase[2 * k]), sin(t + self.phase[2 * k + 1])) * self.amp[k];
        }
        d
    }

    pub(super) fn pressure(&self, s: f32) -> f32 {
        1.0 + self.press_amp * sin(s * self.press_freq + self.press_phase)
    }

    /// Resamples `pts` (pixels) every `step` px or less, displaces each
    /// sample, calls `each(point, distance)` on it, and returns them all.
    pub(super) fn trace(
        &self,
        pts: &[V2],
        px: f32,
        step: f32,
        mut each: impl FnMut(V2, f32),
    ) -> Vec<V2> {
        let mut out = Vec::new();
        let mut travelled = 0.0;
        let mut visit = |p: V2, s: f32, out: &mut Vec<V2>| {
            let q = p + self.offset(s / px) * px;
            each(q, s);
            out.push(q);
        };
        visit(pts[0], 0.0, &mut out);
        for w in pts.windows(2) {
            let d = w[1] - w[0];
            let len = d.len();
            let n = (len / step).ceil().max(1.0) as usize;
            for i in 1..=n {
                let t = i as f32 / n as f32;
                visit(w[0] + d * t, travelled + len * t, &mut out);
            }
            travelled += len;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pen widths as a share of the drawing's larger side, for 2000 pens.
    fn widths(wide: bool) -> Vec<f32> {
        let mut rng = Rng::new(9);
        (0..2000)
            .map(|i| {
                let extent = 0.25 + 0.7 * (i % 50) as f32 / 49.0;
                Pen::pick(i % CATEGORIES.len(), extent, wide, &mut rng).radius * 2.0 / extent
            })
            .collect()
    }

    #[test]
    fn markers_come_only_in_the_wide_spread_and_stop_at_their_widest() {
        // Standard pens stop at 8% of the drawing, or 2.4 px at 128 on the
        // smallest drawings (7.5% of a quarter of the sheet).
        assert!(widths(false).iter().all(|&w| w <= 0.08 + 1e-6));
        let wide = widths(true);
        assert!(wide.iter().all(|&w| w <= MARKER_WIDEST + 1e-6));
        let markers = wide.iter().filter(|&&w| w > 0.08 + 1e-6).count() as f32;
        // Only markers pass 8%; they are 15% of the wide pens.
        let share = markers / wide.len() as f32;
        assert!((0.11..0.19).contains(&share), "markers: {share}");
    }
}
