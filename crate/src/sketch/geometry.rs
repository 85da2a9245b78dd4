//! Points, curves and the platform-independent trigonometry the drawings
//! are made of (built from `+ - * /` and `sqrt`, which IEEE 754 rounds
//! exactly), so a seed gives the same drawing on every platform.

use std::f32::consts::{FRAC_PI_2, PI, TAU};
use std::ops::{Add, Mul, Sub};

use crate::rng::Rng;

/// Sine by a Taylor polynomial on `[-pi/2, pi/2]`; error below 1e-6 there,
/// plenty for drawing, and the same on every platform.
pub(super) fn sin(x: f32) -> f32 {
    // Fold into [-pi/2, pi/2], where the series converges fast.
    let mut x = x - TAU * (x / TAU).round();
    if x > FRAC_PI_2 {
        x = PI - x;
    } else if x < -FRAC_PI_2 {
        x = -PI - x;
    }
    let x2 = x * x;
    x * (1.0
        + x2 * (-1.0 / 6.0
            + x2 * (1.0 / 120.0
                + x2 * (-1.0 / 5040.0 + x2 * (1.0 / 362_880.0 + x2 * (-1.0 / 39_916_800.0))))))
}

pub(super) fn cos(x: f32) -> f32 {
    sin(x + FRAC_PI_2)
}

/// Two-argument arctangent; error about 1e-5 rad.
pub(super) fn atan2(y: f32, x: f32) -> f32 {
    let (ax, ay) = (x.abs(), y.abs());
    if ax == 0.0 && ay == 0.0 {
        return 0.0;
    }
    let t = ax.min(ay) / ax.max(ay);
    let t2 = t * t;
    let mut a = t
        * (0.999_866
            + t2 * (-0.330_299_5 + t2 * (0.180_141 + t2 * (-0.085_133 + t2 * 0.020_835_1))));
    if ay > ax {
        a = FRAC_PI_2 - a;
    }
    if x < 0.0 {
        a = PI - a;
    }
    if y < 0.0 { -a } else { a }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct V2 {
    pub(super) x: f32,
    pub(super) y: f32,
}

pub(super) const fn v(x: f32, y: f32) -> V2 {
    V2 { x, y }
}

pub(super) const ORIGIN: V2 = v(0.0, 0.0);

impl Add for V2 {
    type Output = V2;
    fn add(self, o: V2) -> V2 {
        v(self.x + o.x, self.y + o.y)
    }
}

impl Sub for V2 {
    type Output = V2;
    fn sub(self, o: V2) -> V2 {
        v(self.x - o.x, self.y - o.y)
    }
}

impl Mul<f32> for V2 {
    type Output = V2;
    fn mul(self, k: f32) -> V2 {
        v(self.x * k, self.y * k)
    }
}

impl V2 {
    pub(super) fn dot(self, o: V2) -> f32 {
        self.x * o.x + self.y * o.y
    }

    pub(super) fn len(self) -> f32 {
        self.dot(self).sqrt()
    }

    pub(super) fn min(self, o: V2) -> V2 {
        v(self.x.min(o.x), self.y.min(o.y))
    }

    pub(super) fn max(self, o: V2) -> V2 {
        v(self.x.max(o.x), self.y.max(o.y))
    }
}

pub(super) fn polar(angle: f32, r: f32) -> V2 {
    v(r * cos(angle), r * sin(angle))
}

/// `p` moved by up to `a` in each axis.
pub(super) fn jitter(rng: &mut Rng, p: V2, a: f32) -> V2 {
    p + v(rng.range(-a, a), rng.range(-a, a))
}

/// Points on an elliptic arc from angle `a0` to `a1` (either direction),
/// both ends included. Angles grow clockwise on screen, since y points down.
pub(super) fn arc(c: V2, rx: f32, ry: f32, a0: f32, a1: f32) -> Vec<V2> {
    let n = (((a1 - a0).abs() / (TAU / 64.0)).ceil() as usize).max(3);
    (0..=n)
        .map(|i| {
            let a = a0 + (a1 - a0) * i as f32 / n as f32;
            c + v(rx * cos(a), ry * sin(a))
        })
        .collect()
}

/// A closed ellipse (the first point is not repeated).
pub(super) fn ellipse(c: V2, rx: f32, ry: f32) -> Vec<V2> {
    let mut pts = arc(c, rx, ry, 0.0, TAU);
    pts.pop();
    pts
}

/// Quadratic Bezier curve from `a` to `b` pulled towards `ctrl`.
pub(super) fn bezier(a: V2, ctrl: V2, b: V2) -> Vec<V2> {
    let n = 16;
    (0..=n)
        .map(|i| {
            let t = i as f32 / n as f32;
            let u = 1.0 - t;
            a * (u * u) + ctrl * (2.0 * u * t) + b * (t * t)
        })
        .collect()
}

/// A rectangle's corners, clockwise from the top left.
pub(super) fn rect(x0: f32, y0: f32, x1: f32, y1: f32) -> Vec<V2> {
    vec![v(x0, y0), v(x1, y0), v(x1, y1), v(x0, y1)]
}

pub(super) fn apply(m: &[f32; 4], p: V2) -> V2 {
    v(m[0] * p.x + m[1] * p.y, m[2] * p.x + m[3] * p.y)
}

pub(super) fn polyline_len(pts: &[V2]) -> f32 {
    pts.windows(2).map(|w| (w[1] - w[0]).len()).sum()
}
