//! Drawings as the Draw screen judges them: the bundled sketch model, shown
//! the framed ink, reads a drawing shrunk into a corner of a large sheet as
//! it reads the drawing itself, and a small drawing in a brush far thicker
//! than its pens.

mod common;

use common::{model_dir, on_sheet};
use image::{Rgb, RgbImage};
use webclip::device;
use webclip::eval::drawings::{Variation, held_out_drawing};
use webclip::pipeline::ClipPipeline;
use webclip::sketch::CATEGORIES;

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[test]
fn a_drawing_shrunk_into_a_corner_reads_like_the_drawing_itself() {
    let model = ClipPipeline::load_dir(&model_dir("sketch"), &device::cpu()).unwrap();
    for name in ["house", "fish", "star"] {
        let category = CATEGORIES.iter().position(|c| *c == name).unwrap();
        // The held-out style (training never saw it), centred on a 128 sheet.
        let drawing = held_out_drawing(category, Variation::Centred, 3, 128);
        // Pasted at the top left of a sheet of its paper three times its
        // size, it is a small drawing in a corner.
        let sheet = on_sheet(&drawing, 384, 0, 0);
        let rows = model.embed_drawings(&[drawing, sheet]).unwrap();
        assert!(rows.iter().flatten().all(|v| v.is_finite()));
        let similarity = cosine(&rows[0], &rows[1]);
        assert!(similarity > 0.9, "{name}: cosine {similarity}");
        let probs = model
            .label_embeddings(&rows[1..], &CATEGORIES, "a drawing of a {}")
            .unwrap()
            .remove(0);
        let top = webclip::zeroshot::argmax(&probs);
        assert_eq!(CATEGORIES[top], name, "probabilities {probs:?}");
    }
}

/// `drawing` with every pixel within `radius` of its ink inked: the strokes
/// of a brush `2 * radius` wider.
fn thicken(drawing: &RgbImage, radius: i32) -> RgbImage {
    let (width, height) = (drawing.width() as i32, drawing.height() as i32);
    let inked = |x: i32, y: i32| {
        (0..width).contains(&x)
            && (0..height).contains(&y)
            && drawing
                .get_pixel(x as u32, y as u32)
                .0
                .iter()
                .any(|&c| c < 128)
    };
    RgbImage::from_fn(drawing.width(), drawing.height(), |x, y| {
        let (x, y) = (x as i32, y as i32);
        let near = (-radius..=radius).any(|dy| {
            (-radius..=radius)
                .any(|dx| dx * dx + dy * dy <= radius * radius && inked(x + dx, y + dy))
        });
        if near {
            Rgb([30, 30, 30])
        } else {
            *drawing.get_pixel(x as u32, y as u32)
        }
    })
}

#[test]
fn small_drawings_in_a_very_thick_brush_read_as_the_drawings() {
    let model = ClipPipeline::load_dir(&model_dir("sketch"), &device::cpu()).unwrap();
    // Brush strokes 10 pixels wider on a drawing about 100 across, in a
    // corner of the sheet: 11 to 14% of its size, where the generator's
    // pens reach 8% (the Draw screen's large brush on a drawing in a corner).
    let (mut right, mut misses) = (0, Vec::new());
    for (category, name) in CATEGORIES.iter().enumerate() {
        let sheets: Vec<RgbImage> = (0..5)
            .map(|seed| {
                let drawing = thicken(
                    &held_out_drawing(category, Variation::Centred, seed, 128),
                    5,
                );
                on_sheet(&drawing, 384, 0, 256)
            })
            .collect();
        let rows = model.embed_drawings(&sheets).unwrap();
        for probs in model
            .label_embeddings(&rows, &CATEGORIES, "a drawing of a {}")
            .unwrap()
        {
            let read = CATEGORIES[webclip::zeroshot::argmax(&probs)];
            if read == *name {
                right += 1;
            } else {
                misses.push(format!("{name} read as {read}"));
            }
        }
    }
    // The bundled model reads 98 (two arrows as fish); before markers in its
    // training, 95; without thinning the strokes before framing, 90.
    assert!(right >= 96, "{right} of 100 right; {misses:?}");
}
