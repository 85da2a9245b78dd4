//! The 20 categories as pen marks in the shape's own coordinates.

use std::f32::consts::{FRAC_PI_2, PI, TAU};

use super::geometry::*;
use crate::rng::Rng;

/// One thing the pen does, in the shape's own coordinates (roughly -1..1,
/// y down).
pub(super) enum Mark {
    Path {
        pts: Vec<V2>,
        closed: bool,
        /// Part of the silhouette, so it may be coloured in (closed or not).
        fillable: bool,
        /// Pen width relative to the drawing's pen.
        width: f32,
    },
    /// A filled dot, such as an eye.
    Dot { at: V2, r: f32 },
}

#[derive(Default)]
pub(super) struct Shape {
    pub(super) marks: Vec<Mark>,
}

impl Shape {
    pub(super) fn path(&mut self, pts: Vec<V2>, closed: bool, fillable: bool, width: f32) {
        self.marks.push(Mark::Path {
            pts,
            closed,
            fillable,
            width,
        });
    }

    /// An open stroke.
    pub(super) fn line(&mut self, pts: Vec<V2>) {
        self.path(pts, false, false, 1.0);
    }

    /// A thinner open stroke, for details.
    pub(super) fn thin(&mut self, pts: Vec<V2>) {
        self.path(pts, false, false, 0.7);
    }

    /// A closed outline that belongs to the silhouette.
    pub(super) fn outline(&mut self, pts: Vec<V2>) {
        self.path(pts, true, true, 1.0);
    }

    /// A closed detail inside the silhouette, such as a window.
    pub(super) fn ring(&mut self, pts: Vec<V2>) {
        self.path(pts, true, false, 0.8);
    }

    pub(super) fn dot(&mut self, at: V2, r: f32) {
        self.marks.push(Mark::Dot { at, r });
    }

    /// Bounding box after the linear map `m`.
    pub(super) fn bounds(&self, m: &[f32; 4]) -> (V2, V2) {
        let mut lo = v(f32::MAX, f32::MAX);
        let mut hi = v(f32::MIN, f32::MIN);
        let mut add = |p: V2, r: f32| {
            let q = apply(m, p);
            lo = lo.min(q - v(r, r));
            hi = hi.max(q + v(r, r));
        };
        for mark in &self.marks {
            match mark {
                Mark::Path { pts, .. } => pts.iter().for_each(|&p| add(p, 0.0)),
                Mark::Dot { at, r } => add(*at, *r),
            }
        }
        (lo, hi)
    }
}

/// Shape builders, in [`CATEGORIES`] order.
pub(super) const SHAPES: [fn(&mut Shape, &mut Rng); 20] = [
    circle, square, triangle, star, heart, house, sun, moon, tree, flower, fish, cat, car, boat,
    cloud, umbrella, smiley, arrow, spiral, bolt,
];

pub(super) fn circle(s: &mut Shape, rng: &mut Rng) {
    s.outline(ellipse(ORIGIN, 1.0, rng.range(0.92, 1.08)));
}

pub(super) fn square(s: &mut Shape, rng: &mut Rng) {
    let pts = rect(-1.0, -1.0, 1.0, 1.0)
        .into_iter()
        .map(|p| jitter(rng, p, 0.05))
        .collect();
    s.outline(pts);
}

pub(super) fn triangle(s: &mut Shape, rng: &mut Rng) {
    let apex = v(rng.range(-0.2, 0.2), -1.0);
    let pts = [apex, v(1.0, 0.75), v(-1.0, 0.75)]
        .into_iter()
        .map(|p| jitter(rng, p, 0.05))
        .collect();
    s.outline(pts);
}

pub(super) fn star(s: &mut Shape, rng: &mut Rng) {
    let inner = rng.range(0.38, 0.5);
    let step = TAU / 5.0;
    let tips: Vec<V2> = (0..5)
        .map(|i| jitter(rng, polar(-FRAC_PI_2 + step * i as f32, 1.0), 0.04))
        .collect();
    if rng.chance(0.3) {
        // The one-stroke pentagram many people draw.
        s.outline([0, 2, 4, 1, 3].iter().map(|&i| tips[i]).collect());
    } else {
        let mut pts = Vec::with_capacity(10);
        for (i, &tip) in tips.iter().enumerate() {
            pts.push(tip);
            let r = inner * rng.range(0.92, 1.08);
            pts.push(polar(-FRAC_PI_2 + step * (i as f32 + 0.5), r));
        }
        s.outline(pts);
    }
}

pub(super) fn heart(s: &mut Shape, rng: &mut Rng) {
    let notch = rng.range(4.0, 6.0);
    let pts = (0..64)
        .map(|i| {
            let t = TAU * i as f32 / 64.0;
            let st = sin(t);
            let y = 13.0 * cos(t) - notch * cos(2.0 * t) - 2.0 * cos(3.0 * t) - cos(4.0 * t);
            v(16.0 * st * st * st, -y) * (1.0 / 16.0)
        })
        .collect();
    s.outline(pts);
}

pub(super) fn house(s: &mut Shape, rng: &mut Rng) {
    let w = rng.range(0.65, 0.85);
    let eave = rng.range(-0.15, 0.05);
    let peak = v(rng.range(-0.08, 0.08), rng.range(-1.0, -0.8));
    let overhang = rng.range(0.0, 0.15);
    s.outline(rect(-w, eave, w, 1.0));
    // The roof is open along the eave, which the wall already draws.
    s.path(
        vec![v(-w - overhang, eave), peak, v(w + overhang, eave)],
        false,
        true,
        1.0,
    );
    let side = rng.sign();
    let has_door = rng.chance(0.8);
    if has_door {
        let dx = side * rng.range(0.15, 0.3) * w / 0.75;
        let dw = rng.range(0.13, 0.2);
        let top = rng.range(0.4, 0.55);
        s.line(vec![
            v(dx - dw, 1.0),
            v(dx - dw, top),
            v(dx + dw, top),
            v(dx + dw, 1.0),
        ]);
    }
    if rng.chance(0.75) {
        let cx = if has_door { -side * w * 0.5 } else { 0.0 };
        let h = rng.range(0.12, 0.18);
        let cy = rng.range(0.2, 0.35);
        s.ring(rect(cx - h, cy - h, cx + h, cy + h));
        if rng.chance(0.6) {
            s.thin(vec![v(cx, cy - h), v(cx, cy + h)]);
            s.thin(vec![v(cx - h, cy), v(cx + h, cy)]);
        }
    }
    if rng.chance(0.3) {
        // A chimney standing on the right-hand slope.
        let roof_y = |x: f32| peak.y + (eave - peak.y) * (x - peak.x) / (w + overhang - peak.x);
        let (x0, x1) = (0.4 * w, 0.62 * w);
        let top = peak.y + 0.12;
        s.line(vec![
            v(x0, roof_y(x0)),
            v(x0, top),
            v(x1, top),
            v(x1, roof_y(x1)),
        ]);
    }
}

pub(super) fn sun(s: &mut Shape, rng: &mut Rng) {
    let r = rng.range(0.4, 0.52);
    s.outline(ellipse(ORIGIN, r, r));
    let n = rng.range_usize(7, 13);
    let a0 = rng.range(0.0, TAU);
    let r0 = r + rng.range(0.1, 0.17);
    let alternate = rng.chance(0.3);
    for i in 0..n {
        let a = a0 + TAU * i as f32 / n as f32 + rng.range(-0.08, 0.08);
        let r1 = if alternate && i % 2 == 1 {
            r0 + 0.2
        } else {
            rng.range(0.88, 1.0)
        };
        s.line(vec![polar(a, r0), polar(a, r1)]);
    }
}

pub(super) fn moon(s: &mut Shape, rng: &mut Rng) {
    // Outer arc of the unit circle between the horns at +-t0 (through the
    // left), then back along a smaller circle centred at (c, 0) through the
    // same horns.
    let t0 = rng.range(0.95, 1.3);
    let c = rng.range(0.28, 0.5);
    let horn = v(cos(t0), sin(t0));
    let r2 = (horn - v(c, 0.0)).len();
    let p0 = atan2(horn.y, horn.x - c);
    let mut pts = arc(ORIGIN, 1.0, 1.0, t0, TAU - t0);
    pts.pop();
    let mut inner = arc(v(c, 0.0), r2, r2, TAU - p0, p0);
    inner.pop();
    pts.extend(inner);
    s.outline(pts);
}

pub(super) fn tree(s: &mut Shape, rng: &mut Rng) {
    let tw = rng.range(0.12, 0.2);
    if rng.chance(0.6) {
        let cy = rng.range(-0.4, -0.3);
        let r = rng.range(0.6, 0.72);
        // Mostly leafy bumps: a smooth disc on a stick reads as a lollipop.
        let crown = if rng.chance(0.2) {
            ellipse(v(0.0, cy), r, r * rng.range(0.92, 1.05))
        } else {
            scallops(
                v(0.0, cy),
                r * 0.85,
                r * 0.8,
                rng.range_usize(6, 10),
                0.0,
                rng,
            )
        };
        s.outline(crown);
        let top = cy + (r * r - tw * tw).sqrt() * 0.9;
        s.line(vec![
            v(-tw, top),
            v(-tw * 1.15, 1.0),
            v(tw * 1.15, 1.0),
            v(tw, top),
        ]);
        if rng.chance(0.5) {
            // Branches forking from the top of the trunk into the crown.
            let fork = v(rng.range(-0.03, 0.03), top - 0.05);
            s.thin(vec![fork + v(0.0, 0.25), fork, fork + v(-0.22, -0.25)]);
            s.thin(vec![fork, fork + v(0.2, -0.28)]);
        }
    } else {
        // A fir: stacked tiers drawn as one zig-zag outline.
        let tiers = rng.range_usize(2, 4);
        let bottom = 0.6;
        let mut right = vec![v(0.0, -1.0)];
        for t in 0..tiers {
            let y = -1.0 + (bottom + 1.0) * (t + 1) as f32 / tiers as f32;
            let half = 0.3 + 0.5 * (t + 1) as f32 / tiers as f32;
            right.push(v(half, y));
            if t + 1 < tiers {
                right.push(v(half * 0.5, y));
            }
        }
        let left: Vec<V2> = right[1..].iter().rev().map(|p| v(-p.x, p.y)).collect();
        right.extend(left);
        s.outline(right);
        s.line(vec![v(-tw, bottom), v(-tw, 1.0), v(tw, 1.0), v(tw, bottom)]);
    }
}

/// A closed bumpy curve: `n` arcs bulging out of an ellipse, as in clouds,
/// leafy crowns and petal rings. `flat` squashes the bumps on the lower half.
pub(super) fn scallops(c: V2, rx: f32, ry: f32, n: usize, flat: f32, rng: &mut Rng) -> Vec<V2> {
    let a0 = rng.range(0.0, TAU);
    let anchors: Vec<V2> = (0..n)
        .map(|i| {
            let a = a0 + TAU * (i as f32 + rng.range(-0.15, 0.15)) / n as f32;
            c + v(rx * cos(a), ry * sin(a))
        })
        .collect();
    let mut pts = Vec::new();
    for i in 0..n {
        let (p, q) = (anchors[i], anchors[(i + 1) % n]);
        let squash = if (p + q).y * 0.5 > c.y {
            1.0 - flat
        } else {
            1.0
        };
        pts.extend(bump(p, q, c, squash * rng.range(0.8, 1.1)));
    }
    pts
}

/// A half-ellipse from `p` towards `q` (which it leaves out), bulging away
/// from `c` by `depth` times half the distance between them.
fn bump(p: V2, q: V2, c: V2, depth: f32) -> Vec<V2> {
    let mid = (p + q) * 0.5;
    let half = (q - p).len() * 0.5;
    let a = atan2(p.y - mid.y, p.x - mid.x);
    let out = polar(a + FRAC_PI_2, 1.0);
    let dir = if (mid - c).dot(out) > 0.0 { 1.0 } else { -1.0 };
    let half_ellipse = arc(ORIGIN, half, half * depth, 0.0, dir * PI);
    let (ca, sa) = (cos(a), sin(a));
    half_ellipse[..half_ellipse.len() - 1]
        .iter()
        .map(|b| mid + v(b.x * ca - b.y * sa, b.x * sa + b.y * ca))
        .collect()
}

pub(super) fn flower(s: &mut Shape, rng: &mut Rng) {
    let c = v(0.0, -0.4);
    let r0 = rng.range(0.15, 0.22);
    let petal = rng.range(0.32, 0.42);
    let n = rng.range_usize(5, 9);
    if rng.chance(0.6) {
        let a0 = rng.range(0.0, TAU);
        let width = rng.range(0.25, 0.4);
        for i in 0..n {
            let a = a0 + TAU * i as f32 / n as f32;
            let (ca, sa) = (cos(a), sin(a));
            let mid = c + polar(a, r0 + petal * 0.5);
            let pts = ellipse(ORIGIN, petal * 0.55, petal * width)
                .into_iter()
                .map(|p| mid + v(p.x * ca - p.y * sa, p.x * sa + p.y * ca))
                .collect();
            s.outline(pts);
        }
    } else {
        let rr = r0 + petal * 0.75;
        s.outline(scallops(c, rr, rr, n, 0.0, rng));
    }
    s.outline(ellipse(c, r0, r0));
    let base = c.y + r0 + petal * 0.85;
    let bend = rng.range(-0.25, 0.25);
    s.line(bezier(v(0.0, base), v(bend, 0.35), v(bend * 0.3, 1.0)));
    if rng.chance(0.6) {
        let side = rng.sign();
        let at = v(bend * 0.55, 0.55);
        let tip = at + v(side * rng.range(0.35, 0.45), -rng.range(0.15, 0.3));
        let mid = (at + tip) * 0.5;
        let n = v(tip.y - at.y, at.x - tip.x) * 0.35;
        let mut leaf = bezier(at, mid + n, tip);
        leaf.pop();
        leaf.extend(bezier(tip, mid - n, at));
        leaf.pop();
        s.outline(leaf);
    }
}

pub(super) fn fish(s: &mut Shape, rng: &mut Rng) {
    let ry = rng.range(0.35, 0.5);
    if rng.chance(0.65) {
        s.outline(ellipse(v(-0.15, 0.0), 0.75, ry));
        let spread = rng.range(0.3, 0.45);
        s.outline(vec![
            v(0.55, 0.0),
            v(1.0, -spread),
            v(rng.range(0.85, 0.95), 0.0),
            v(1.0, spread),
        ]);
    } else {
        // Two arcs crossing near the tail, like the classic fish symbol.
        let mut pts = bezier(v(-0.9, 0.0), v(-0.1, -2.0 * ry), v(0.9, 0.4));
        pts.pop();
        pts.extend(bezier(v(0.9, -0.4), v(-0.1, 2.0 * ry), v(-0.9, 0.0)));
        pts.pop();
        s.outline(pts);
    }
    s.dot(v(-0.55, -ry * 0.3), rng.range(0.06, 0.09));
    if rng.chance(0.5) {
        s.thin(arc(v(-0.65, 0.0), 0.35, ry * 0.8, -0.7, 0.7));
    }
}

pub(super) fn cat(s: &mut Shape, rng: &mut Rng) {
    let (hc, rx, ry, whisker_len) = if rng.chance(0.7) {
        (v(0.0, 0.15), 0.8, rng.range(0.62, 0.72), 0.8)
    } else {
        // Sitting: a smaller head on a round body, with a tail.
        let body = arc(v(0.0, 0.55), 0.6, 0.5, -1.1, PI + 1.1);
        s.path(body, false, true, 1.0);
        let side = rng.sign();
        s.line(bezier(
            v(side * 0.5, 0.85),
            v(side * 1.15, 0.95),
            v(side * 0.95, rng.range(0.2, 0.4)),
        ));
        (v(0.0, -0.3), 0.5, 0.42, 0.45)
    };
    s.outline(ellipse(hc, rx, ry));
    let head_y = |x: f32| hc.y - ry * (1.0 - (x / rx) * (x / rx)).max(0.0).sqrt();
    let ear = rng.range(0.45, 0.65) * ry / 0.68;
    for side in [-1.0, 1.0] {
        let (x0, x1) = (side * rx * 0.85, side * rx * 0.3);
        let tip = v(side * rx * 0.72, head_y(x0) - ear);
        s.line(vec![
            v(x0, head_y(x0) + 0.02),
            tip,
            v(x1, head_y(x1) + 0.02),
        ]);
    }
    let eye_y = hc.y - ry * 0.15;
    let eye_x = rx * 0.38;
    if rng.chance(0.6) {
        s.dot(v(-eye_x, eye_y), 0.07 * rx / 0.8);
        s.dot(v(eye_x, eye_y), 0.07 * rx / 0.8);
    } else {
        let h = ry * 0.14;
        s.line(vec![v(-eye_x, eye_y - h), v(-eye_x, eye_y + h)]);
        s.line(vec![v(eye_x, eye_y - h), v(eye_x, eye_y + h)]);
    }
    let k = rx / 0.8;
    let nose = hc + v(0.0, ry * 0.18);
    s.dot(nose, 0.05 * k);
    s.thin(arc(nose + v(-0.1 * k, 0.04), 0.1 * k, 0.1 * k, 0.0, PI));
    s.thin(arc(nose + v(0.1 * k, 0.04), 0.1 * k, 0.1 * k, 0.0, PI));
    let whiskers = rng.range_usize(2, 4);
    for side in [-1.0, 1.0] {
        for i in 0..whiskers {
            let dy = (i as f32 - (whiskers - 1) as f32 * 0.5) * 0.1 * k;
            let from = nose + v(side * 0.22 * k, dy * 0.5);
            let to = from + v(side * whisker_len, dy * 2.0 + rng.range(-0.04, 0.04));
            s.thin(vec![from, to]);
        }
    }
}

pub(super) fn car(s: &mut Shape, rng: &mut Rng) {
    let roof = rng.range(-0.55, -0.4);
    let (back, front) = (rng.range(-0.65, -0.45), rng.range(0.35, 0.55));
    let hood = rng.range(-0.1, 0.05);
    s.outline(vec![
        v(-1.0, 0.4),
        v(-1.0, hood + 0.05),
        v(back - 0.1, hood),
        v(back + 0.12, roof),
        v(front - 0.15, roof),
        v(front + 0.05, hood),
        v(1.0, hood + 0.08),
        v(1.0, 0.4),
    ]);
    let wr = rng.range(0.18, 0.25);
    for x in [-0.58, 0.58] {
        s.outline(ellipse(v(x, 0.42), wr, wr));
        if rng.chance(0.3) {
            s.dot(v(x, 0.42), wr * 0.3);
        }
    }
    if rng.chance(0.85) {
        // Two windows following the slanted sides of the cabin.
        let up = |y: f32| (hood - y) / (hood - roof);
        let left = |y: f32| back - 0.1 + 0.22 * up(y) + 0.07;
        let right = |y: f32| front + 0.05 - 0.2 * up(y) - 0.07;
        let (y0, y1) = (roof + 0.08, hood - 0.04);
        let mid = (back + front) * 0.5;
        s.ring(vec![
            v(left(y0), y0),
            v(mid - 0.04, y0),
            v(mid - 0.04, y1),
            v(left(y1), y1),
        ]);
        s.ring(vec![
            v(mid + 0.04, y0),
            v(right(y0), y0),
            v(right(y1), y1),
            v(mid + 0.04, y1),
        ]);
    }
}

pub(super) fn boat(s: &mut Shape, rng: &mut Rng) {
    let deck = 0.3;
    let keel = rng.range(0.65, 0.8);
    let slant = rng.range(0.2, 0.4);
    s.outline(vec![
        v(-1.0, deck),
        v(1.0, deck),
        v(1.0 - slant, keel),
        v(-1.0 + slant, keel),
    ]);
    let mast_x = rng.range(-0.15, 0.1);
    let top = rng.range(-1.0, -0.85);
    s.line(vec![v(mast_x, deck), v(mast_x, top)]);
    let reach = rng.range(0.55, 0.8);
    s.outline(vec![
        v(mast_x + 0.05, top + 0.05),
        v(mast_x + 0.05, deck - 0.12),
        v(mast_x + reach, deck - 0.12),
    ]);
    if rng.chance(0.4) {
        s.outline(vec![
            v(mast_x - 0.05, top + 0.3),
            v(mast_x - 0.05, deck - 0.12),
            v(mast_x - reach * 0.7, deck - 0.12),
        ]);
    }
    if rng.chance(0.35) {
        let phase = rng.range(0.0, TAU);
        let pts = (0..=40)
            .map(|i| {
                let x = -1.1 + 2.2 * i as f32 / 40.0;
                v(x, keel + 0.12 + 0.05 * sin(x * 9.0 + phase))
            })
            .collect();
        s.thin(pts);
    }
}

pub(super) fn cloud(s: &mut Shape, rng: &mut Rng) {
    if rng.chance(0.5) {
        let n = rng.range_usize(6, 10);
        let flat = rng.range(0.0, 0.8);
        s.outline(scallops(ORIGIN, 1.0, rng.range(0.45, 0.6), n, flat, rng));
        return;
    }
    // The cloud most people doodle: a row of bumps, tallest in the middle,
    // on a flat or gently curved base.
    let base = rng.range(0.3, 0.5);
    let centre = v(0.0, base - 0.4);
    let n = rng.range_usize(2, 5);
    let widths: Vec<f32> = (0..n).map(|_| rng.range(0.7, 1.3)).collect();
    let total: f32 = widths.iter().sum();
    let mut anchors = vec![v(-1.0, base)];
    let mut x = -1.0;
    for w in &widths[..n - 1] {
        x += 2.0 * w / total;
        let rise = rng.range(0.45, 0.75) * (1.0 - 0.45 * x.abs());
        anchors.push(v(x, base - rise));
    }
    anchors.push(v(1.0, base));
    let mut pts = Vec::new();
    for pair in anchors.windows(2) {
        pts.extend(bump(pair[0], pair[1], centre, rng.range(0.75, 1.05)));
    }
    let sag = rng.range(-0.04, 0.1);
    pts.extend((0..8).map(|i| {
        let x = 1.0 - 2.0 * i as f32 / 8.0;
        v(x, base + sag * (1.0 - x * x))
    }));
    s.outline(pts);
}

pub(super) fn umbrella(s: &mut Shape, rng: &mut Rng) {
    let h = rng.range(0.65, 0.85);
    let n = rng.range_usize(3, 6);
    let mut canopy = arc(ORIGIN, 1.0, h, PI, TAU);
    canopy.pop();
    let w = 2.0 / n as f32;
    let lift = rng.range(0.3, 0.6);
    for i in 0..n {
        let mid = v(1.0 - w * (i as f32 + 0.5), 0.0);
        let mut bump = arc(mid, w * 0.5, w * 0.5 * lift, 0.0, -PI);
        bump.pop();
        canopy.extend(bump);
    }
    s.outline(canopy);
    if rng.chance(0.5) {
        for i in 1..n {
            let x = 1.0 - w * i as f32;
            s.thin(bezier(v(0.0, -h), v(x * 0.6, -h * 0.6), v(x, 0.0)));
        }
    }
    s.line(vec![v(0.0, -h), v(0.0, -h - 0.12)]);
    let hook = rng.range(0.12, 0.2);
    let side = rng.sign();
    let bottom = rng.range(0.75, 0.9);
    let mut handle = vec![v(0.0, -w * 0.5 * lift)];
    handle.extend(arc(v(side * hook, bottom), hook, hook, PI, 0.0));
    s.line(handle);
}

pub(super) fn smiley(s: &mut Shape, rng: &mut Rng) {
    s.outline(ellipse(ORIGIN, 1.0, rng.range(0.92, 1.05)));
    let ex = rng.range(0.3, 0.4);
    let ey = rng.range(-0.4, -0.25);
    if rng.chance(0.6) {
        let r = rng.range(0.08, 0.12);
        s.dot(v(-ex, ey), r);
        s.dot(v(ex, ey), r);
    } else {
        s.line(vec![v(-ex, ey - 0.12), v(-ex, ey + 0.12)]);
        s.line(vec![v(ex, ey - 0.12), v(ex, ey + 0.12)]);
    }
    let r = rng.range(0.5, 0.62);
    let spread = rng.range(0.5, 0.9);
    s.line(arc(
        v(0.0, rng.range(-0.05, 0.1)),
        r,
        r * rng.range(0.8, 1.0),
        FRAC_PI_2 - spread,
        FRAC_PI_2 + spread,
    ));
}

pub(super) fn arrow(s: &mut Shape, rng: &mut Rng) {
    let head = rng.range(0.35, 0.5);
    let barb = head * rng.range(0.6, 0.85);
    let style = rng.f32();
    if style < 0.6 {
        let bend = if rng.chance(0.2) {
            rng.range(-0.3, 0.3)
        } else {
            0.0
        };
        s.line(bezier(v(-1.0, 0.0), v(0.0, bend), v(1.0, 0.0)));
        s.line(vec![v(1.0 - head, -barb), v(1.0, 0.0), v(1.0 - head, barb)]);
    } else if style < 0.85 {
        s.line(vec![v(-1.0, 0.0), v(1.0 - head, 0.0)]);
        s.outline(vec![v(1.0, 0.0), v(1.0 - head, barb), v(1.0 - head, -barb)]);
    } else {
        let t = rng.range(0.14, 0.22);
        s.outline(vec![
            v(-1.0, -t),
            v(1.0 - head, -t),
            v(1.0 - head, -barb - 0.05),
            v(1.0, 0.0),
            v(1.0 - head, barb + 0.05),
            v(1.0 - head, t),
            v(-1.0, t),
        ]);
    }
}

pub(super) fn spiral(s: &mut Shape, rng: &mut Rng) {
    let turns = rng.range(2.2, 3.6);
    let end = turns * TAU;
    let dir = rng.sign();
    let n = (turns * 40.0) as usize;
    let pts = (0..=n)
        .map(|i| {
            let t = 0.25 + (end - 0.25) * i as f32 / n as f32;
            polar(dir * t, t / end)
        })
        .collect();
    s.line(pts);
}

pub(super) fn bolt(s: &mut Shape, rng: &mut Rng) {
    let pts = [
        v(-0.1, -1.0),
        v(0.5, -1.0),
        v(0.12, -0.2),
        v(0.5, -0.2),
        v(-0.35, 1.0),
        v(-0.05, 0.15),
        v(-0.45, 0.15),
    ]
    .into_iter()
    .map(|p| jitter(rng, p, 0.05))
    .collect();
    s.outline(pts);
}
