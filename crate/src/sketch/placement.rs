//! Where a drawing sits on the sheet, how large and how tilted: the mapping
//! from shape coordinates to the sheet, and the words a caption uses for it.

use std::f32::consts::TAU;

use super::CATEGORIES;
use super::geometry::*;
use super::shapes::Shape;
use serde::{Deserialize, Serialize};

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

/// How widely drawings spread over the sheet, in place, size, tilt and pen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Spread {
    /// Small drawings anywhere, the others in the middle or pushed to a
    /// side; 30 to 84% of the sheet; tilted up to 17 degrees; pens from 2 px
    /// at 128.
    #[default]
    Standard,
    /// Anywhere they fit, touching the edges now and then; 25 to 95% of the
    /// sheet; tilted up to 34 degrees; pens from 1.2 px, and now and then a
    /// marker (strokes 8 to 15% of the drawing's size). Too wide for a model
    /// to learn from scratch in the time budget: for fine-tuning one that
    /// knows the standard drawings.
    Wide,
    /// Wide and standard drawings in turn: fine-tuning on it teaches the
    /// wide drawings without forgetting the standard ones.
    Mixed,
}

impl Spread {
    /// The spread of drawing number `n` of a sequence: [`Spread::Mixed`]
    /// alternates, wide first; the others are the same for every drawing.
    pub fn of_drawing(self, n: u64) -> Spread {
        match self {
            Spread::Mixed if n.is_multiple_of(2) => Spread::Wide,
            Spread::Mixed => Spread::Standard,
            spread => spread,
        }
    }
}

/// Size classes: caption word, probability, and the range of the drawing's
/// larger side as a fraction of the sheet.
type SizeClasses = [(Option<&'static str>, f32, f32, f32); 3];

pub(super) const SIZES: SizeClasses = [
    (Some("small"), 0.3, 0.3, 0.42),
    (None, 0.4, 0.5, 0.64),
    (Some("large"), 0.3, 0.74, 0.84),
];

pub(super) const WIDE_SIZES: SizeClasses = [
    (Some("small"), 0.3, 0.25, 0.42),
    (None, 0.4, 0.45, 0.68),
    (Some("large"), 0.3, 0.72, 0.95),
];

/// Share of [`Spread::Wide`] drawings placed in the middle of the sheet; the
/// others go anywhere they fit.
const WIDE_CENTRED: f32 = 0.4;

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
    pub(super) fn pick(category: usize, shape: &Shape, wide: bool, rng: &mut Rng) -> Self {
        // People's drawings lean, often by a good 30 degrees: half the wide
        // drawings lean 15 to 34 degrees, the rest anywhere up to that.
        let lean = if wide { 0.6 } else { 0.3 };
        let rot = match CATEGORIES[category] {
            "circle" | "arrow" | "spiral" => rng.range(0.0, TAU),
            "moon" => rng.range(-lean - 0.3, lean + 0.3),
            _ if wide && rng.chance(0.5) => rng.sign() * rng.range(0.26, lean),
            _ => rng.range(-lean, lean),
        };
        let mirror = -rng.sign();
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
        let span = hi - lo;
        let (size_word, extent, place, centre) = if wide {
            wide_spot(class, span, rng)
        } else {
            standard_spot(class, span, rng)
        };
        let scale = scale_for(extent, span);
        Placement {
            extent,
            size_word,
            place,
            m,
            scale,
            shift: centre - (lo + hi) * (0.5 * scale),
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

/// What a drawing of size `class` whose bounds span `span` (in shape units)
/// gets in a spread: its size word, its larger side on the sheet, its place
/// and the sheet point its middle goes to.
type Spot = (Option<&'static str>, f32, Place, V2);

/// The scale that gives a drawing spanning `span` the larger side `extent`.
fn scale_for(extent: f32, span: V2) -> f32 {
    extent / span.x.max(span.y).max(1e-6)
}

/// [`Spread::Standard`]: small drawings at any place, medium ones at a side
/// now and then, large ones in the middle.
fn standard_spot(class: usize, span: V2, rng: &mut Rng) -> Spot {
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
    let half = span * (scale_for(extent, span) * 0.5);
    let (dx, dy) = place.offset();
    let cx = axis(rng, dx, half.x);
    let cy = axis(rng, dy, half.y);
    (size_word, extent, place, v(cx, cy))
}

/// [`Spread::Wide`]: anywhere the drawing fits, its place word from where it
/// lands.
fn wide_spot(class: usize, span: V2, rng: &mut Rng) -> Spot {
    let (size_word, _, lo_e, hi_e) = WIDE_SIZES[class];
    let extent = rng.range(lo_e, hi_e);
    let half = span * (scale_for(extent, span) * 0.5);
    let centred = rng.chance(WIDE_CENTRED);
    let cx = wide_axis(rng, centred, half.x);
    let cy = wide_axis(rng, centred, half.y);
    (size_word, extent, place_of(cx, cy), v(cx, cy))
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

/// Centre along one axis for a [`Spread::Wide`] drawing `half` as wide as
/// the sheet on that axis: near the middle, or anywhere it fits (touching an
/// edge now and then).
fn wide_axis(rng: &mut Rng, centred: bool, half: f32) -> f32 {
    let margin = if rng.chance(0.2) {
        0.0
    } else {
        rng.range(0.0, 0.05)
    };
    let (lo, hi) = (margin + half, 1.0 - margin - half);
    if lo >= hi {
        return 0.5;
    }
    match centred {
        true => 0.5 + rng.range(-0.02, 0.02).clamp(lo - 0.5, hi - 0.5),
        false => rng.range(lo, hi),
    }
}

/// The caption's place for a drawing centred at `(x, y)`: the middle fifth
/// of each axis is its centre.
fn place_of(x: f32, y: f32) -> Place {
    let side = |t: f32| match t {
        t if t < 0.4 => -1,
        t if t > 0.6 => 1,
        _ => 0,
    };
    let offset = (side(x), side(y));
    Place::ALL
        .into_iter()
        .find(|place| place.offset() == offset)
        .expect("every offset has its place")
}
