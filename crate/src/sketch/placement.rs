//! Where a drawing sits on the sheet, how large and how tilted: the mapping
//! from shape coordinates to the sheet, and the words a caption uses for it.

use std::f32::consts::TAU;

use super::CATEGORIES;
use super::geometry::*;
use super::shapes::Shape;
use crate::rng::Rng;

/// Where a drawing sits on the sheet, as its caption says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Place {
    Center,
    Top,
    Bottom,
    Left,
    Right,
    TopLeft,
    TopRight,
    BottomLeft,
    BottomRight,
}

impl Place {
    pub(super) const ALL: [Place; 9] = [
        Place::Center,
        Place::Top,
        Place::Bottom,
        Place::Left,
        Place::Right,
        Place::TopLeft,
        Place::TopRight,
        Place::BottomLeft,
        Place::BottomRight,
    ];

    /// Column and row offsets from the centre, each -1, 0 or 1.
    pub(super) fn offset(self) -> (i32, i32) {
        match self {
            Place::Center => (0, 0),
            Place::Top => (0, -1),
            Place::Bottom => (0, 1),
            Place::Left => (-1, 0),
            Place::Right => (1, 0),
            Place::TopLeft => (-1, -1),
            Place::TopRight => (1, -1),
            Place::BottomLeft => (-1, 1),
            Place::BottomRight => (1, 1),
        }
    }

    pub(super) fn phrases(self) -> &'static [&'static str] {
        match self {
            Place::Center => &["in the center", "in the middle"],
            Place::Top => &["at the top", "near the top"],
            Place::Bottom => &["at the bottom", "near the bottom"],
            Place::Left => &["on the left", "on the left side"],
            Place::Right => &["on the right", "on the right side"],
            Place::TopLeft => &["in the top left corner", "at the top left"],
            Place::TopRight => &["in the top right corner", "at the top right"],
            Place::BottomLeft => &["in the bottom left corner", "at the bottom left"],
            Place::BottomRight => &["in the bottom right corner", "at the bottom right"],
        }
    }
}

/// Size classes: caption word, probability, and the range of the drawing's
/// larger side as a fraction of the sheet.
pub(super) const SIZES: [(Option<&str>, f32, f32, f32); 3] = [
    (Some("small"), 0.3, 0.3, 0.42),
    (None, 0.4, 0.5, 0.64),
    (Some("large"), 0.3, 0.74, 0.84),
];

/// Maps shape coordinates to the sheet (in units of its side).
pub(super) struct Placement {
    /// Larger side of the drawing.
    pub(super) extent: f32,
    pub(super) size_word: Option<&'static str>,
    pub(super) place: Place,
    pub(super) m: [f32; 4],
    pub(super) scale: f32,
    pub(super) shift: V2,
    /// A gentle warp of the whole drawing: a hand is never quite straight.
    pub(super) warp_amp: f32,
    pub(super) warp_freq: f32,
    pub(super) warp_phase: [f32; 2],
}

impl Placement {
    pub(super) fn pick(category: usize, shape: &Shape, rng: &mut Rng) -> Self {
        let rot = match CATEGORIES[category] {
            "circle" | "arrow" | "spiral" => rng.range(0.0, TAU),
            "moon" => rng.range(-0.6, 0.6),
            _ => rng.range(-0.3, 0.3),
        };
        let mirror = if rng.chance(0.5) { -1.0 } else { 1.0 };
        let ax = rng.range(0.9, 1.1) * mirror;
        let ay = rng.range(0.9, 1.1);
        let (c, s) = (cos(rot), sin(rot));
        let m = [c * ax, -s * ay, s * ax, c * ay];
        let (lo, hi) = shape.bounds(&m);

        let u = rng.f32();
        let class = if u < SIZES[0].1 {
            0
        } else if u < SIZES[0].1 + SIZES[1].1 {
            1
        } else {
            2
        };
        let (size_word, _, lo_e, hi_e) = SIZES[class];
        let place = match class {
            0 => *rng.pick(&Place::ALL),
            1 if rng.chance(0.4) => *rng.pick(&Place::ALL[1..5]),
            _ => Place::Center,
        };
        // Drawings pushed to a side must be small enough to pen it.
        let hi_e = if class == 1 && place != Place::Center {
            lo_e + 0.05
        } else {
            hi_e
        };
        let extent = rng.range(lo_e, hi_e);
        let span = hi - lo;
        let scale = extent / span.x.max(span.y).max(1e-6);
        let (dx, dy) = place.offset();
        let cx = axis(rng, dx, span.x * scale * 0.5);
        let cy = axis(rng, dy, span.y * scale * 0.5);
        Placement {
            extent,
            size_word,
            place,
            m,
            scale,
            shift: v(cx, cy) - (lo + hi) * (0.5 * scale),
            warp_amp: extent * rng.range(0.01, 0.03),
            warp_freq: TAU / (extent * rng.range(1.2, 2.5)),
            warp_phase: [rng.range(0.0, TAU), rng.range(0.0, TAU)],
        }
    }

    /// Shape coordinates to sheet coordinates (0..1).
    pub(super) fn map(&self, p: V2) -> V2 {
        let q = apply(&self.m, p) * self.scale + self.shift;
        q + v(
            sin(q.y * self.warp_freq + self.warp_phase[0]),
            sin(q.x * self.warp_freq + self.warp_phase[1]),
        ) * self.warp_amp
    }
}

/// Centre along one axis for an offset of -1, 0 or 1 and a half-extent.
pub(super) fn axis(rng: &mut Rng, offset: i32, half: f32) -> f32 {
    let margin = 0.05;
    let nudge = rng.range(0.0, 0.04);
    match offset {
        0 => {
            let room = (0.5 - margin - half).clamp(0.0, 0.03);
            0.5 + (nudge - 0.02) / 0.02 * room
        }
        o if o < 0 => margin + half + nudge,
        _ => 1.0 - margin - half - nudge,
    }
}
