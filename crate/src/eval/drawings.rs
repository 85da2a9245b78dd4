//! A second way of drawing the 20 sketch categories, for evaluation only:
//! training never sees it. It shares nothing with `crate::sketch` but the
//! category names: its own outlines (each shape as most people draw it:
//! a pentagram star, a lollipop tree, a cat's face with whiskers), its own
//! proportions, and its own pen: plain polylines of constant width with
//! round ends, anti-aliased by distance, in dark inks on white or nearly
//! white paper, with a slow hand tremor instead of the generator's wobble.
//!
//! Each drawing belongs to one [`Variation`] so a model's weak spots show
//! separately: centred, placed anywhere (touching the edges too), small,
//! tilted, or in a thick marker, and all of those but the marker at once.

use std::f32::consts::{PI, TAU};

use image::{Rgb, RgbImage};

use crate::rng::Rng;
use crate::sketch::CATEGORIES;

/// How a held-out drawing departs from a large, upright, centred one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variation {
    /// Large, upright, in the middle of the sheet.
    Centred,
    /// Fairly large (40 to 70% of the sheet) and upright, anywhere on the
    /// sheet (up to its edges).
    OffCentre,
    /// A quarter to 40% of the sheet, in the middle.
    Small,
    /// Turned by 15 to 35 degrees either way, in the middle.
    Tilted,
    /// In a marker or a large brush: strokes 9 to 16% of the drawing's
    /// size (the pen otherwise is 1 to 3.5 pixels in 128), 30 to 60% of
    /// the sheet, anywhere on it.
    Thick,
    /// Any size from a quarter of the sheet up, any place, any tilt up to
    /// 35 degrees: how drawings come in a game.
    Mixed,
}

impl Variation {
    pub const ALL: [Variation; 6] = [
        Variation::Centred,
        Variation::OffCentre,
        Variation::Small,
        Variation::Tilted,
        Variation::Thick,
        Variation::Mixed,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Variation::Centred => "centred",
            Variation::OffCentre => "off-centre",
            Variation::Small => "small",
            Variation::Tilted => "tilted",
            Variation::Thick => "thick",
            Variation::Mixed => "mixed",
        }
    }
}

/// A point in the shape's own frame: the drawing fits `[-1, 1]` both ways,
/// y pointing down.
type P = (f32, f32);

/// One held-out drawing of `category` on a `size` x `size` sheet.
pub fn held_out_drawing(category: usize, variation: Variation, seed: u64, size: u32) -> RgbImage {
    let mut rng = Rng::new(seed ^ 0x4E1D_0000_u64 ^ ((category as u64) << 32));
    let strokes = outline(category, &mut rng);

    // Size is the half-extent of the drawing as a share of the sheet side.
    let (half, tilt_deg) = match variation {
        Variation::Centred => (rng.range(0.3, 0.42), rng.range(-4.0, 4.0)),
        // Somewhat smaller, so that there is room to be off centre.
        Variation::OffCentre => (rng.range(0.2, 0.35), rng.range(-4.0, 4.0)),
        Variation::Small => (rng.range(0.125, 0.2), rng.range(-4.0, 4.0)),
        Variation::Tilted => {
            let side = if rng.chance(0.5) { 1.0 } else { -1.0 };
            (rng.range(0.3, 0.42), side * rng.range(15.0, 35.0))
        }
        Variation::Thick => (rng.range(0.15, 0.3), rng.range(-4.0, 4.0)),
        Variation::Mixed => (rng.range(0.125, 0.45), rng.range(-35.0, 35.0)),
    };
    let placed_anywhere = matches!(
        variation,
        Variation::OffCentre | Variation::Thick | Variation::Mixed
    );
    let (sin, cos) = (tilt_deg * PI / 180.0).sin_cos();
    // The tilted drawing's own box, to place it on the sheet.
    let turned: Vec<Vec<P>> = strokes
        .iter()
        .map(|s| {
            s.iter()
                .map(|&(x, y)| (x * cos - y * sin, x * sin + y * cos))
                .collect()
        })
        .collect();
    let (mut lo, mut hi) = ((f32::MAX, f32::MAX), (f32::MIN, f32::MIN));
    for &(x, y) in turned.iter().flatten() {
        lo = (lo.0.min(x), lo.1.min(y));
        hi = (hi.0.max(x), hi.1.max(y));
    }
    let scale = half * size as f32 / ((hi.0 - lo.0).max(hi.1 - lo.1) / 2.0);
    let (w, h) = ((hi.0 - lo.0) * scale, (hi.1 - lo.1) * scale);
    let sheet = size as f32;
    let (left, top) = match placed_anywhere {
        // Anywhere the whole drawing fits, edges included.
        true => (
            rng.range(0.0, (sheet - w).max(0.0)),
            rng.range(0.0, (sheet - h).max(0.0)),
        ),
        false => ((sheet - w) / 2.0, (sheet - h) / 2.0),
    };
    let to_sheet = |(x, y): P| ((x - lo.0) * scale + left, (y - lo.1) * scale + top);

    // Pen: 1 to 3.5 pixels per 128 of the sheet, dark inks; a marker's
    // width goes with the drawing's size.
    let width = match variation {
        Variation::Thick => rng.range(0.09, 0.16) * 2.0 * half * sheet,
        _ => rng.range(1.0, 3.5) * sheet / 128.0,
    };
    let ink = *rng.pick(&[
        [20.0, 20.0, 20.0],
        [30, 40, 110].map(|c| c as f32),
        [60.0, 60.0, 64.0],
    ]);
    let paper = match rng.chance(0.7) {
        true => [255.0; 3],
        false => [
            rng.range(240.0, 252.0),
            rng.range(238.0, 250.0),
            rng.range(228.0, 246.0),
        ],
    };
    // A slow tremor: two low-frequency waves along the stroke, under a pixel
    // or two.
    let tremor = Tremor::new(&mut rng, 0.004 * sheet);

    let mut coverage = vec![0.0f32; (size * size) as usize];
    let mut walked = 0.0;
    for stroke in &turned {
        let points: Vec<P> = stroke
            .iter()
            .map(|&p| {
                let (x, y) = to_sheet(p);
                walked += 1.0;
                let (dx, dy) = tremor.at(walked * 0.15);
                (x + dx, y + dy)
            })
            .collect();
        for pair in points.windows(2) {
            stamp_segment(&mut coverage, size as usize, pair[0], pair[1], width / 2.0);
        }
        if points.len() == 1 {
            stamp_segment(
                &mut coverage,
                size as usize,
                points[0],
                points[0],
                width / 2.0,
            );
        }
    }
    RgbImage::from_fn(size, size, |x, y| {
        let c = coverage[(y * size + x) as usize];
        Rgb(std::array::from_fn(|i| {
            (paper[i] + (ink[i] - paper[i]) * c)
                .round()
                .clamp(0.0, 255.0) as u8
        }))
    })
}

/// A smooth displacement along a stroke, the same for the whole drawing.
struct Tremor {
    waves: [(f32, f32, f32); 2],
    amplitude: f32,
}

impl Tremor {
    fn new(rng: &mut Rng, amplitude: f32) -> Self {
        let mut wave = || {
            (
                rng.range(0.5, 1.5),
                rng.range(0.0, TAU),
                rng.range(0.0, TAU),
            )
        };
        Tremor {
            waves: [wave(), wave()],
            amplitude,
        }
    }

    fn at(&self, t: f32) -> P {
        let [(fx, px, py), (fy, qx, qy)] = self.waves;
        (
            self.amplitude * ((fx * t + px).sin() + 0.5 * (fy * 2.3 * t + qx).sin()),
            self.amplitude * ((fx * 1.1 * t + py).sin() + 0.5 * (fy * 1.9 * t + qy).sin()),
        )
    }
}

/// Ink coverage of a round-ended segment of half-width `r`, kept as the
/// maximum where strokes overlap (one pen, one ink).
fn stamp_segment(coverage: &mut [f32], size: usize, a: P, b: P, r: f32) {
    let reach = r + 1.0;
    let x0 = (a.0.min(b.0) - reach).floor().max(0.0) as usize;
    let y0 = (a.1.min(b.1) - reach).floor().max(0.0) as usize;
    let x1 = ((a.0.max(b.0) + reach).ceil().max(0.0) as usize).min(size);
    let y1 = ((a.1.max(b.1) + reach).ceil().max(0.0) as usize).min(size);
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let length2 = dx * dx + dy * dy;
    for y in y0..y1 {
        for x in x0..x1 {
            let (px, py) = (x as f32 + 0.5 - a.0, y as f32 + 0.5 - a.1);
            let t = match length2 > 0.0 {
                true => ((px * dx + py * dy) / length2).clamp(0.0, 1.0),
                false => 0.0,
            };
            let distance = ((px - t * dx).powi(2) + (py - t * dy).powi(2)).sqrt();
            let c = (r + 0.5 - distance).clamp(0.0, 1.0);
            let cell = &mut coverage[y * size + x];
            *cell = cell.max(c);
        }
    }
}

/// Points around an ellipse from angle `from` to `to` (radians, clockwise on
/// screen since y points down).
fn arc(centre: P, radii: P, from: f32, to: f32) -> Vec<P> {
    let steps = ((to - from).abs() / TAU * 48.0).ceil().max(4.0) as usize;
    (0..=steps)
        .map(|i| {
            let a = from + (to - from) * i as f32 / steps as f32;
            (centre.0 + radii.0 * a.cos(), centre.1 + radii.1 * a.sin())
        })
        .collect()
}

fn circle(centre: P, r: f32) -> Vec<P> {
    arc(centre, (r, r), 0.0, TAU)
}

fn closed(mut points: Vec<P>) -> Vec<P> {
    points.push(points[0]);
    points
}

/// A filled-looking dot (an eye): a tiny circle drawn twice.
fn dot(centre: P, r: f32) -> Vec<P> {
    let mut points = circle(centre, r);
    points.extend(circle(centre, r / 2.0));
    points
}

/// A value in `[-spread, spread)`.
fn jitter(rng: &mut Rng, spread: f32) -> f32 {
    rng.range(-spread, spread)
}

/// The strokes of `category`, with a little per-drawing variety.
fn outline(category: usize, rng: &mut Rng) -> Vec<Vec<P>> {
    match CATEGORIES[category] {
        "circle" => vec![arc(
            (0.0, 0.0),
            (1.0, 1.0 + jitter(rng, 0.08)),
            -0.3,
            TAU + 0.1,
        )],
        "square" => {
            let s = 1.0 + jitter(rng, 0.05);
            vec![closed(vec![(-s, -s), (s, -s), (s, s), (-s, s)])]
        }
        "triangle" => vec![closed(vec![
            (jitter(rng, 0.2), -1.0),
            (1.0, 0.85),
            (-1.0, 0.85),
        ])],
        "star" => {
            // The five-pointed star in one line, crossing itself.
            let turn = jitter(rng, 0.1);
            let points = (0..=5)
                .map(|i| {
                    let a = -PI / 2.0 + turn + i as f32 * 2.0 * TAU / 5.0;
                    (a.cos(), a.sin())
                })
                .collect();
            vec![points]
        }
        "heart" => {
            let points = (0..=60)
                .map(|i| {
                    let t = TAU * i as f32 / 60.0;
                    let x = 16.0 * t.sin().powi(3);
                    let y = 13.0 * t.cos()
                        - 5.0 * (2.0 * t).cos()
                        - 2.0 * (3.0 * t).cos()
                        - (4.0 * t).cos();
                    (x / 16.0, -y / 16.0)
                })
                .collect();
            vec![points]
        }
        "house" => {
            let roof = -0.1 + jitter(rng, 0.1);
            let mut strokes = vec![
                closed(vec![(-0.8, roof), (0.8, roof), (0.8, 1.0), (-0.8, 1.0)]),
                vec![(-0.95, roof + 0.05), (0.0, -1.0), (0.95, roof + 0.05)],
                vec![(-0.2, 1.0), (-0.2, 0.45), (0.2, 0.45), (0.2, 1.0)],
            ];
            if rng.chance(0.5) {
                strokes.push(closed(vec![
                    (0.4, 0.15),
                    (0.65, 0.15),
                    (0.65, 0.4),
                    (0.4, 0.4),
                ]));
            }
            strokes
        }
        "sun" => {
            let rays = 8 + rng.below(5);
            let mut strokes = vec![circle((0.0, 0.0), 0.45)];
            for i in 0..rays {
                let a = TAU * i as f32 / rays as f32;
                strokes.push(vec![(0.6 * a.cos(), 0.6 * a.sin()), (a.cos(), a.sin())]);
            }
            strokes
        }
        "moon" => {
            // A crescent: the outer arc and a shallower inner one.
            let mut points = arc((0.0, 0.0), (1.0, 1.0), PI / 2.0 - 0.1, 3.0 * PI / 2.0 + 0.1);
            let inner = arc(
                (0.35, 0.0),
                (0.8, 0.95),
                3.0 * PI / 2.0 - 0.15,
                PI / 2.0 + 0.15,
            );
            points.extend(inner);
            vec![points]
        }
        "tree" => {
            // The lollipop tree: a round crown on a trunk.
            let crown = 0.62 + jitter(rng, 0.05);
            let crown_arc = arc(
                (0.0, -1.0 + crown),
                (crown, crown),
                PI / 2.0 + 0.25,
                PI / 2.0 - 0.25 + TAU,
            );
            let bottom = -1.0 + crown + crown * 0.97;
            vec![
                crown_arc,
                vec![(-0.15, bottom), (-0.15, 1.0), (0.15, 1.0), (0.15, bottom)],
            ]
        }
        "flower" => {
            let petals = 5 + rng.below(3);
            let head = (0.0, -0.4);
            let mut strokes = vec![circle(head, 0.16)];
            for i in 0..petals {
                let a = TAU * i as f32 / petals as f32;
                let centre = (head.0 + 0.36 * a.cos(), head.1 + 0.36 * a.sin());
                strokes.push(circle(centre, 0.2));
            }
            strokes.push(vec![(0.0, 0.0), (0.02, 1.0)]);
            strokes.push(vec![(0.01, 0.6), (0.3, 0.4)]);
            strokes
        }
        "fish" => vec![
            arc((-0.15, 0.0), (0.75, 0.45), 0.0, TAU),
            closed(vec![(0.55, 0.0), (1.0, -0.4), (1.0, 0.4)]),
            dot((-0.5, -0.1), 0.05),
        ],
        "cat" => {
            // A cat's face: ears, eyes, nose and whiskers.
            let mut strokes = vec![
                arc(
                    (0.0, 0.15),
                    (0.85, 0.75),
                    -PI / 2.0 + 0.55,
                    3.0 * PI / 2.0 - 0.55,
                ),
                vec![(-0.62, -0.38), (-0.7, -1.0), (-0.2, -0.58)],
                vec![(0.62, -0.38), (0.7, -1.0), (0.2, -0.58)],
                dot((-0.32, 0.0), 0.07),
                dot((0.32, 0.0), 0.07),
                closed(vec![(-0.08, 0.25), (0.08, 0.25), (0.0, 0.35)]),
            ];
            for side in [-1.0, 1.0] {
                for dy in [-0.06, 0.1] {
                    strokes.push(vec![(side * 0.2, 0.35), (side * 1.0, 0.3 + dy)]);
                }
            }
            strokes
        }
        "car" => vec![
            vec![
                (-1.0, 0.5),
                (-1.0, 0.05),
                (-0.55, 0.0),
                (-0.35, -0.45),
                (0.35, -0.45),
                (0.55, 0.0),
                (1.0, 0.08),
                (1.0, 0.5),
                (0.75, 0.5),
            ],
            vec![(0.25, 0.5), (-0.25, 0.5)],
            vec![(-0.75, 0.5), (-1.0, 0.5)],
            circle((-0.5, 0.5), 0.25),
            circle((0.5, 0.5), 0.25),
        ],
        "boat" => vec![
            closed(vec![(-1.0, 0.35), (1.0, 0.35), (0.65, 0.85), (-0.65, 0.85)]),
            vec![(0.0, 0.35), (0.0, -1.0)],
            closed(vec![(0.0, -0.95), (0.7, 0.2), (0.0, 0.2)]),
        ],
        "cloud" => {
            let mut points = vec![(-0.9, 0.4)];
            points.extend(arc((-0.6, 0.1), (0.35, 0.35), PI * 0.8, PI * 1.6));
            points.extend(arc((-0.05, -0.2), (0.45, 0.45), PI * 1.1, PI * 1.9));
            points.extend(arc((0.55, 0.05), (0.4, 0.4), PI * 1.3, PI * 2.3));
            points.push((-0.9, 0.4));
            vec![points]
        }
        "umbrella" => {
            let mut canopy = arc((0.0, 0.0), (1.0, 0.9), PI, TAU);
            // The scalloped lower edge, back from right to left.
            for k in 0..4 {
                let centre = (0.75 - 0.5 * k as f32, 0.0);
                canopy.extend(
                    arc(centre, (0.25, 0.12), 0.0, -PI)
                        .into_iter()
                        .map(|(x, y)| (x, -y)),
                );
            }
            let mut handle = vec![(0.0, -0.9), (0.0, 0.8)];
            handle.extend(arc((-0.15, 0.8), (0.15, 0.15), 0.0, PI));
            vec![canopy, handle]
        }
        "smiley face" => vec![
            circle((0.0, 0.0), 1.0),
            dot((-0.35, -0.3), 0.08),
            dot((0.35, -0.3), 0.08),
            arc((0.0, 0.05), (0.55, 0.5), 0.35, PI - 0.35),
        ],
        "arrow" => {
            let head = 0.45 + jitter(rng, 0.1);
            vec![
                vec![(-1.0, 0.0), (1.0, 0.0)],
                vec![
                    (1.0 - head, -head * 0.8),
                    (1.0, 0.0),
                    (1.0 - head, head * 0.8),
                ],
            ]
        }
        "spiral" => {
            let turns = 2.5 + rng.range(0.0, 1.0);
            let points = (0..=(turns * 40.0) as usize)
                .map(|i| {
                    let t = i as f32 / 40.0;
                    let r = t / turns;
                    let a = t * TAU;
                    (r * a.cos(), r * a.sin())
                })
                .collect();
            vec![points]
        }
        "lightning bolt" => vec![closed(vec![
            (0.15, -1.0),
            (-0.55, 0.1),
            (-0.05, 0.1),
            (-0.3, 1.0),
            (0.6, -0.25),
            (0.1, -0.25),
            (0.4, -1.0),
        ])],
        other => unreachable!("no held-out outline for {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_category_and_variation_draws_ink_on_the_sheet() {
        for (category, name) in CATEGORIES.iter().enumerate() {
            for variation in Variation::ALL {
                let image = held_out_drawing(category, variation, 7, 64);
                let inked = image.pixels().filter(|p| p.0[0] < 160).count();
                assert!(
                    inked > 10 && inked < 64 * 64 / 2,
                    "{name} {variation:?}: {inked} inked pixels"
                );
            }
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_drawing() {
        let a = held_out_drawing(3, Variation::Mixed, 11, 64);
        assert_eq!(a, held_out_drawing(3, Variation::Mixed, 11, 64));
        assert_ne!(a, held_out_drawing(3, Variation::Mixed, 12, 64));
    }
}
