//! Drawings as the Draw screen judges them: the bundled sketch model, shown
//! the framed ink, reads a drawing shrunk into a corner of a large sheet as
//! it reads the drawing itself.

mod common;

use common::model_dir;
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
        let paper: Rgb<u8> = *drawing.get_pixel(0, 0);
        let mut sheet = RgbImage::from_pixel(384, 384, paper);
        image::imageops::replace(&mut sheet, &drawing, 0, 0);
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
