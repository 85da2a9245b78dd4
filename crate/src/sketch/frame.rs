//! Framing a drawing: the square around its ink, with a margin of paper,
//! so that a drawing made small or in a corner reaches the model as large
//! and centred as the ones it learnt from. A 64-pixel input leaves a small
//! drawing in a corner only a few patches; framed, it fills the grid.

use image::{Rgb, RgbImage};

/// How far a pixel's colour must be from the paper's (in any channel, out
/// of 255) to count as ink: above paper grain and the generator's specks
/// (at most about 62), well below the faintest pen.
const INK_CONTRAST: i32 = 80;

/// The drawing's larger side as a share of the framed sheet: as large as the
/// generator's large drawings.
const FILL: f32 = 0.8;

/// The frame is never smaller than this share of the sheet's shorter side,
/// so a stray dot is not blown up to fill the model's input.
const LEAST_FRAME: f32 = 0.25;

/// The square around the ink of `image` with a margin of paper (paper added
/// where the square reaches past the sheet); the image unchanged when it
/// holds no ink. The paper is the median colour of the sheet's border.
pub fn frame_ink(image: &RgbImage) -> RgbImage {
    let (width, height) = image.dimensions();
    if width == 0 || height == 0 {
        return image.clone();
    }
    let paper = paper_colour(image);
    let is_ink = |p: &Rgb<u8>| (0..3).any(|c| (p[c] as i32 - paper[c] as i32).abs() > INK_CONTRAST);
    let (mut left, mut top, mut right, mut bottom) = (u32::MAX, u32::MAX, 0, 0);
    for (x, y, p) in image.enumerate_pixels() {
        if is_ink(p) {
            (left, top) = (left.min(x), top.min(y));
            (right, bottom) = (right.max(x + 1), bottom.max(y + 1));
        }
    }
    if left == u32::MAX {
        return image.clone();
    }
    let extent = (right - left).max(bottom - top) as f32;
    let least = LEAST_FRAME * width.min(height) as f32;
    let side = (extent / FILL).max(least).round() as u32;
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

/// Each channel's median over the pixels of the sheet's border: the paper
/// colour even where a drawing touches the edge.
fn paper_colour(image: &RgbImage) -> Rgb<u8> {
    let (width, height) = image.dimensions();
    let border: Vec<&Rgb<u8>> = image
        .enumerate_pixels()
        .filter(|(x, y, _)| *x == 0 || *y == 0 || *x + 1 == width || *y + 1 == height)
        .map(|(_, _, p)| p)
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

    fn sheet(width: u32, height: u32, paper: [u8; 3]) -> RgbImage {
        RgbImage::from_pixel(width, height, Rgb(paper))
    }

    fn ink_box(image: &RgbImage, paper: [u8; 3]) -> (u32, u32, u32, u32) {
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
        let framed = frame_ink(&image);
        // The larger side, 60, fills 80% of the frame: 75 pixels square.
        assert_eq!(framed.dimensions(), (75, 75));
        let (l, t, r, b) = ink_box(&framed, paper);
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
        let framed = frame_ink(&image);
        // 100 wide at 80%: 125 square, the line across its middle.
        assert_eq!(framed.dimensions(), (125, 125));
        assert_eq!(ink_box(&framed, paper), (12, 62, 112, 63));
        let blank = sheet(30, 40, paper);
        assert_eq!(frame_ink(&blank), blank);
        assert_eq!(frame_ink(&sheet(0, 0, paper)).dimensions(), (0, 0));
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
        let framed = frame_ink(&image);
        // One ink pixel: the least frame, a quarter of the sheet.
        assert_eq!(framed.dimensions(), (32, 32));
        assert_eq!(framed.get_pixel(16, 16).0, [0, 0, 0]);
    }
}
