//! Framing a drawing: the square around its ink, with a margin of paper,
//! so that a drawing made small or in a corner reaches the model as large
//! and centred as the ones it learnt from. A 64-pixel input leaves a small
//! drawing in a corner only a few patches; framed, it fills the grid.
//!
//! A small model's reading of a drawing can hinge on its exact size in the
//! grid (a model that never saw doodled clouds read the held-out ones right
//! at 60% of the frame and wrong at 80%) and on its tilt, so a drawing is
//! framed at each of [`FILLS`], each frame also turned by [`TURNS`], and
//! judged by the mean of those views' embeddings. Strokes much thicker for
//! the drawing's size than any pen the model learnt from (a large brush on a
//! small drawing) are thinned first.

use image::{Rgb, RgbImage};

/// How far a pixel's colour must be from the paper's (in any channel, out
/// of 255) to count as ink: above paper grain and the generator's specks
/// (at most about 62), well below the faintest pen.
const INK_CONTRAST: i32 = 80;

/// The drawing's larger side as a share of each framed view: around the
/// size of the generator's large drawings.
pub const FILLS: [f32; 3] = [0.65, 0.75, 0.85];

/// Each frame as it is and turned both ways, in degrees: people's drawings
/// lean, and a turn either way brings one that leans back upright.
pub const TURNS: [f32; 3] = [0.0, -15.0, 15.0];

/// The frame is never smaller than this share of the sheet's shorter side,
/// so a stray dot is not blown up to fill the model's input.
const LEAST_FRAME: f32 = 0.25;

/// Strokes thicker than this share of the drawing's larger side are thinned:
/// the generator's pens reach 8% of it (its markers, in a few of the wide
/// drawings, 15%), and the model reads a small drawing in a much thicker
/// brush as blots (a spiral as a circle). Thinning from 12 or 15% down to 8
/// or 12% read the held-out thick drawings worse than this.
const THICKEST_STROKE: f32 = 0.09;

/// The share such strokes are thinned to: a middling pen of the generator.
const THINNED_STROKE: f32 = 0.06;

/// Ink that a disc this share of the drawing's larger side across fits in
/// is a filled area (a solid moon, a shaded canopy), not a stroke to thin:
/// the large brush on the smallest drawing the Draw screen's tests make
/// measures 0.15.
const FILL_DISC: f32 = 0.16;

/// The views of `image` a drawing is judged by: its ink, strokes thinned
/// where they are far too thick, framed at each of [`FILLS`], each frame
/// turned by each of [`TURNS`]; the image alone when it holds no ink.
pub fn ink_views(image: &RgbImage) -> Vec<RgbImage> {
    let Some(mut ink) = ink_box(image) else {
        return vec![image.clone()];
    };
    let thinned = thin_strokes(image, &ink);
    let image = match &thinned {
        Some(thin) => {
            ink = ink_box(thin).unwrap_or(ink);
            thin
        }
        None => image,
    };
    FILLS
        .iter()
        .flat_map(|&fill| {
            let framed = frame(image, &ink, fill);
            TURNS.map(|degrees| turn(&framed, degrees, ink.paper))
        })
        .collect()
}

fn is_ink(pixel: &Rgb<u8>, paper: Rgb<u8>) -> bool {
    (0..3).any(|c| (pixel[c] as i32 - paper[c] as i32).abs() > INK_CONTRAST)
}

/// Each pixel's distance to the nearest paper pixel (0 on paper, 1 on ink
/// beside it), by a two-pass chamfer with steps of 1 and sqrt 2. Beyond the
/// sheet's edge is not paper: a stroke cut by the edge is not thin there.
fn paper_distance(ink: &[bool], width: usize, height: usize) -> Vec<f32> {
    use std::f32::consts::SQRT_2;
    let mut distance: Vec<f32> = ink
        .iter()
        .map(|&ink| if ink { f32::INFINITY } else { 0.0 })
        .collect();
    // The neighbours already visited in a forward pass; a backward pass
    // visits their mirror images.
    let before = [
        (-1, 0, 1.0),
        (0, -1, 1.0),
        (-1, -1, SQRT_2),
        (1, -1, SQRT_2),
    ];
    let mut relax = |i: usize, sign: isize| {
        let (x, y) = ((i % width) as isize, (i / width) as isize);
        for (dx, dy, step) in before {
            let (nx, ny) = (x + sign * dx, y + sign * dy);
            if (0..width as isize).contains(&nx) && (0..height as isize).contains(&ny) {
                let near = distance[ny as usize * width + nx as usize] + step;
                distance[i] = distance[i].min(near);
            }
        }
    };
    (0..ink.len()).for_each(|i| relax(i, 1));
    (0..ink.len()).rev().for_each(|i| relax(i, -1));
    distance
}

/// `image` with its strokes thinned to [`THINNED_STROKE`] of the drawing's
/// larger side when they are thicker than [`THICKEST_STROKE`]; filled areas
/// stay as they are. `None` when nothing is thinned.
fn thin_strokes(image: &RgbImage, ink: &Ink) -> Option<RgbImage> {
    let (width, height) = (image.width() as usize, image.height() as usize);
    let extent = (ink.right - ink.left).max(ink.bottom - ink.top) as f32;
    let mask: Vec<bool> = image.pixels().map(|p| is_ink(p, ink.paper)).collect();
    let distance = paper_distance(&mask, width, height);
    // Filled areas: the ink within a disc of FILL_DISC that fits in the ink,
    // i.e. near a pixel further than the disc's radius from paper.
    let radius = FILL_DISC * extent / 2.0;
    let outside_fills: Vec<bool> = distance.iter().map(|&d| d <= radius).collect();
    let from_fills = paper_distance(&outside_fills, width, height);
    let stroke_at = |i: usize| mask[i] && from_fills[i] > radius;
    let mut across: Vec<f32> = (0..mask.len())
        .filter(|&i| stroke_at(i))
        .map(|i| distance[i])
        .collect();
    if across.is_empty() {
        return None;
    }
    let middle = across.len() / 2;
    let median = *across.select_nth_unstable_by(middle, f32::total_cmp).1;
    // Across a stroke w wide the distances run 1, 2 .. w/2 .. 2, 1, so
    // their median is about w/4 + 1/2.
    let stroke = 4.0 * median - 2.0;
    if stroke <= THICKEST_STROKE * extent {
        return None;
    }
    // Paper over the stroke pixels within `shave` of paper; at least three
    // pixels across every stroke stay.
    let shave = ((stroke - THINNED_STROKE * extent) / 2.0).min(stroke / 2.0 - 1.5);
    let mut thin = image.clone();
    for (i, pixel) in thin.pixels_mut().enumerate() {
        if !mask[i] || (stroke_at(i) && distance[i] <= shave) {
            *pixel = ink.paper;
        }
    }
    Some(thin)
}

/// Where the ink of a sheet is, and the sheet's paper colour.
#[derive(Clone, Copy)]
struct Ink {
    paper: Rgb<u8>,
    left: u32,
    top: u32,
    right: u32,
    bottom: u32,
}

/// The box around the pixels that differ from the paper (the median colour
/// of the sheet's border) by more than [`INK_CONTRAST`]; `None` on a blank
/// or empty sheet.
fn ink_box(image: &RgbImage) -> Option<Ink> {
    let (width, height) = image.dimensions();
    if width == 0 || height == 0 {
        return None;
    }
    let paper = paper_colour(image);
    let (mut left, mut top, mut right, mut bottom) = (u32::MAX, u32::MAX, 0, 0);
    for (x, y, p) in image.enumerate_pixels() {
        if is_ink(p, paper) {
            (left, top) = (left.min(x), top.min(y));
            (right, bottom) = (right.max(x + 1), bottom.max(y + 1));
        }
    }
    (left != u32::MAX).then_some(Ink {
        paper,
        left,
        top,
        right,
        bottom,
    })
}

/// The square around `ink`, the drawing's larger side `fill` of it, with
/// paper added where the square reaches past the sheet.
fn frame(image: &RgbImage, ink: &Ink, fill: f32) -> RgbImage {
    let (width, height) = image.dimensions();
    let Ink {
        paper,
        left,
        top,
        right,
        bottom,
    } = *ink;
    let extent = (right - left).max(bottom - top) as f32;
    let least = LEAST_FRAME * width.min(height) as f32;
    let side = (extent / fill).max(least).round() as u32;
    // The frame's top left corner on the sheet, possibly outside it.
    let origin_x = (left + right) as i64 / 2 - side as i64 / 2;
    let origin_y = (top + bottom) as i64 / 2 - side as i64 / 2;
    RgbImage::from_fn(side, side, |x, y| {
        let (sx, sy) = (origin_x + x as i64, origin_y + y as i64);
        if (0..width as i64).contains(&sx) && (0..height as i64).contains(&sy) {
            *image.get_pixel(sx as u32, sy as u32)
        } else {
            paper
        }
    })
}

/// `image` turned by `degrees` about its centre (bilinear; paper where the
/// turned image leaves the square uncovered).
fn turn(image: &RgbImage, degrees: f32, paper: Rgb<u8>) -> RgbImage {
    if degrees == 0.0 {
        return image.clone();
    }
    let (width, height) = image.dimensions();
    let (sin, cos) = degrees.to_radians().sin_cos();
    let (cx, cy) = (width as f32 / 2.0, height as f32 / 2.0);
    let at = |x: f32, y: f32| -> [f32; 3] {
        let inside = x >= 0.0 && y >= 0.0 && x < width as f32 && y < height as f32;
        let pixel = if inside {
            *image.get_pixel(x as u32, y as u32)
        } else {
            paper
        };
        pixel.0.map(f32::from)
    };
    RgbImage::from_fn(width, height, |x, y| {
        // The point of the unturned image that lands on this pixel's centre.
        let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
        let sx = cos * dx + sin * dy + cx - 0.5;
        let sy = -sin * dx + cos * dy + cy - 0.5;
        let (x0, y0) = (sx.floor(), sy.floor());
        let (fx, fy) = (sx - x0, sy - y0);
        let corners = [
            at(x0, y0),
            at(x0 + 1.0, y0),
            at(x0, y0 + 1.0),
            at(x0 + 1.0, y0 + 1.0),
        ];
        Rgb(std::array::from_fn(|c| {
            let top = corners[0][c] * (1.0 - fx) + corners[1][c] * fx;
            let bottom = corners[2][c] * (1.0 - fx) + corners[3][c] * fx;
            (top * (1.0 - fy) + bottom * fy).round() as u8
        }))
    })
}

/// Each channel's median over the pixels of the sheet's border: the paper
/// colour even where a drawing touches the edge.
fn paper_colour(image: &RgbImage) -> Rgb<u8> {
    let (width, height) = image.dimensions();
    // Top and bottom rows, then the left and right columns between them.
    let rows = (0..width).flat_map(|x| [(x, 0), (x, height - 1)]);
    let columns = (1..height.saturating_sub(1)).flat_map(|y| [(0, y), (width - 1, y)]);
    let border: Vec<&Rgb<u8>> = rows
        .chain(columns)
        .map(|(x, y)| image.get_pixel(x, y))
        .collect();
    Rgb(std::array::from_fn(|c| {
        let mut values: Vec<u8> = border.iter().map(|p| p[c]).collect();
        values.sort_unstable();
        values[values.len() / 2]
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame_ink(image: &RgbImage, fill: f32) -> RgbImage {
        match ink_box(image) {
            Some(ink) => frame(image, &ink, fill),
            None => image.clone(),
        }
    }

    fn sheet(width: u32, height: u32, paper: [u8; 3]) -> RgbImage {
        RgbImage::from_pixel(width, height, Rgb(paper))
    }

    fn drawn_box(image: &RgbImage, paper: [u8; 3]) -> (u32, u32, u32, u32) {
        let (mut l, mut t, mut r, mut b) = (u32::MAX, u32::MAX, 0, 0);
        for (x, y, p) in image.enumerate_pixels() {
            if p.0 != paper {
                (l, t, r, b) = (l.min(x), t.min(y), r.max(x + 1), b.max(y + 1));
            }
        }
        (l, t, r, b)
    }

    #[test]
    fn a_small_drawing_in_a_corner_comes_out_large_and_centred() {
        let paper = [244, 240, 228];
        let mut image = sheet(200, 200, paper);
        // A 60 x 30 ink rectangle in the top left corner, touching the edges.
        for y in 0..30 {
            for x in 0..60 {
                image.put_pixel(x, y, Rgb([30, 40, 110]));
            }
        }
        let framed = frame_ink(&image, 0.8);
        // The larger side, 60, fills 80% of the frame: 75 pixels square.
        assert_eq!(framed.dimensions(), (75, 75));
        let sides: Vec<u32> = ink_views(&image).iter().map(|v| v.width()).collect();
        assert_eq!(sides, [92, 92, 92, 80, 80, 80, 71, 71, 71]);
        let (l, t, r, b) = drawn_box(&framed, paper);
        assert_eq!((r - l, b - t), (60, 30));
        // Centred: equal paper on either side (to a pixel).
        assert!((l as i32 - (75 - r) as i32).abs() <= 1, "{l} {r}");
        assert!((t as i32 - (75 - b) as i32).abs() <= 1, "{t} {b}");
    }

    #[test]
    fn a_large_drawing_gets_its_margin_and_a_blank_sheet_is_unchanged() {
        let paper = [255; 3];
        let mut image = sheet(100, 60, paper);
        for x in 0..100 {
            image.put_pixel(x, 30, Rgb([20, 20, 20]));
        }
        let framed = frame_ink(&image, 0.8);
        // 100 wide at 80%: 125 square, the line across its middle.
        assert_eq!(framed.dimensions(), (125, 125));
        assert_eq!(drawn_box(&framed, paper), (12, 62, 112, 63));
        let blank = sheet(30, 40, paper);
        assert_eq!(frame_ink(&blank, 0.8), blank);
        assert_eq!(ink_views(&blank), vec![blank]);
        assert_eq!(frame_ink(&sheet(0, 0, paper), 0.8).dimensions(), (0, 0));
    }

    #[test]
    fn a_turned_view_turns_the_drawing_about_the_centre() {
        let paper = [255; 3];
        let mut image = sheet(101, 101, paper);
        // A horizontal bar through the centre.
        for x in 10..91 {
            image.put_pixel(x, 50, Rgb([0; 3]));
        }
        assert_eq!(turn(&image, 0.0, Rgb(paper)), image);
        let turned = turn(&image, 90.0, Rgb(paper));
        // Now a vertical one, and the sheet's corners stay paper.
        for y in 12..89 {
            assert!(turned.get_pixel(50, y).0[0] < 40, "row {y}");
        }
        assert!(turned.get_pixel(20, 50).0[0] > 215);
        assert_eq!(turned.get_pixel(0, 0).0, paper);
        let views = ink_views(&image);
        assert_eq!(views.len(), FILLS.len() * TURNS.len());
        // A view turned by 15 degrees: the bar's ends move up and down.
        let (left, right) = (ink_rows(&views[1], 0.2), ink_rows(&views[1], 0.8));
        assert!((left - right).abs() > 5.0, "{left} {right}");
    }

    /// The mean row of the ink in the column at `share` of the width.
    fn ink_rows(image: &RgbImage, share: f32) -> f32 {
        let x = (share * image.width() as f32) as u32;
        let rows: Vec<u32> = (0..image.height())
            .filter(|&y| image.get_pixel(x, y).0[0] < 128)
            .collect();
        rows.iter().sum::<u32>() as f32 / rows.len().max(1) as f32
    }

    /// A sheet with a ring `pen` pixels wide around `centre`, `radius` to the
    /// middle of its stroke; `pen` 0 fills the disc instead.
    fn ring(size: u32, centre: f32, radius: f32, pen: f32) -> RgbImage {
        RgbImage::from_fn(size, size, |x, y| {
            let r = (x as f32 + 0.5 - centre).hypot(y as f32 + 0.5 - centre);
            let inked = if pen == 0.0 {
                r < radius
            } else {
                (r - radius).abs() < pen / 2.0
            };
            Rgb(if inked { [20; 3] } else { [252; 3] })
        })
    }

    /// Ink pixels in row `y` right of column `from`.
    fn ink_in_row(image: &RgbImage, y: u32, from: u32) -> usize {
        (from..image.width())
            .filter(|&x| image.get_pixel(x, y).0[0] < 128)
            .count()
    }

    #[test]
    fn strokes_far_too_thick_for_the_drawing_are_thinned_and_the_rest_left() {
        // A ring about 116 pixels across in the corner of a 400-pixel sheet,
        // in a 16-pixel pen: 14% of its size.
        let thick = ring(400, 70.0, 50.0, 16.0);
        assert_eq!(ink_in_row(&thick, 70, 70), 16);
        let thin = thin_strokes(&thick, &ink_box(&thick).unwrap()).unwrap();
        // Now 6% of it, about 7 pixels, along the middle of the old stroke.
        let across = ink_in_row(&thin, 70, 70);
        assert!((6..=9).contains(&across), "{across} pixels across");
        for (x, y) in [(120, 70), (70, 120), (20, 70), (70, 20), (105, 105)] {
            assert!(thin.get_pixel(x, y).0[0] < 128, "({x}, {y}) lost");
        }
        // The views are of the thinned ring, framed around its new box.
        let views = ink_views(&thick);
        assert_eq!(
            views[0],
            turn(
                &frame(&thin, &ink_box(&thin).unwrap(), FILLS[0]),
                0.0,
                Rgb([252; 3])
            )
        );
        // A middling pen, and a filled disc, are left as they are.
        for drawing in [ring(400, 70.0, 50.0, 7.0), ring(400, 70.0, 50.0, 0.0)] {
            assert!(thin_strokes(&drawing, &ink_box(&drawing).unwrap()).is_none());
        }
    }

    #[test]
    fn paper_grain_is_not_ink_and_a_dot_is_not_blown_up() {
        let paper = [250, 250, 250];
        let mut image = sheet(128, 128, paper);
        for (x, y, p) in image.enumerate_pixels_mut() {
            // Grain of up to 30 grey levels.
            let grain = ((x * 7 + y * 13) % 31) as u8;
            *p = Rgb([250 - grain; 3]);
        }
        image.put_pixel(100, 20, Rgb([0, 0, 0]));
        let framed = frame_ink(&image, 0.8);
        // One ink pixel: the least frame, a quarter of the sheet, in every view.
        assert!(ink_views(&image).iter().all(|v| v.dimensions() == (32, 32)));
        assert_eq!(framed.dimensions(), (32, 32));
        assert_eq!(framed.get_pixel(16, 16).0, [0, 0, 0]);
    }
}
