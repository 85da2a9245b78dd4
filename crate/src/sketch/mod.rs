//! Synthetic hand-drawn sketches with captions, for training a small CLIP.
//!
//! Each drawing is one of [`CATEGORIES`], made to look like a quick pen
//! doodle on paper: wobbly strokes of uneven width, shapes that overshoot or
//! do not quite close, now and then a missing segment, a random colour, size,
//! place and tilt, and a tinted, speckled sheet behind it. The caption names
//! the attributes that were actually drawn (colour, size, position), so a
//! text encoder has to learn them to match image and text.
//!
//! Everything is a pure function of `(category, seed, size)`. The module uses
//! the portable [`Rng`] and its own trigonometry (built from `+ - * /` and `sqrt`,
//! which IEEE 754 rounds exactly), so it does not depend on the platform's
//! math library and a seed gives the same bytes everywhere, wasm32 included.
//! All random choices are made in units of the image side, so one seed gives
//! the same drawing at any `size`, only sampled more finely.

mod canvas;
mod captions;
mod frame;
mod geometry;
mod pen;
mod placement;
mod shapes;

use image::RgbImage;

use crate::rng::Rng;
use canvas::{Canvas, lay_paper};
pub use captions::caption_vocabulary;
use captions::{Claims, caption};
pub use frame::ink_views;
use pen::{INKS, Pen};
pub use placement::Spread;
use placement::{Place, Placement};
use shapes::{SHAPES, Shape};

/// The things that can be drawn, in label order.
pub const CATEGORIES: [&str; 20] = [
    "circle",
    "square",
    "triangle",
    "star",
    "heart",
    "house",
    "sun",
    "moon",
    "tree",
    "flower",
    "fish",
    "cat",
    "car",
    "boat",
    "cloud",
    "umbrella",
    "smiley face",
    "arrow",
    "spiral",
    "lightning bolt",
];

/// A generated drawing and its caption.
#[derive(Clone, Debug)]
pub struct Sketch {
    pub image: RgbImage,
    /// Index into [`CATEGORIES`].
    pub category: usize,
    pub caption: String,
    pub truth: Truth,
}

/// What a drawing shows and what its caption claims about it, so a caption
/// can be checked against any other drawing.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Truth {
    category: usize,
    ink: &'static str,
    size_word: Option<&'static str>,
    place: Place,
    claims: Claims,
}

impl Truth {
    /// Whether this drawing's caption is also true of `other`'s drawing:
    /// the same category, and every colour, size and place it names holds
    /// there. "a drawing of a star" fits every star.
    pub fn caption_fits(&self, other: &Truth) -> bool {
        let c = &self.claims;
        self.category == other.category
            && c.ink.is_none_or(|ink| ink == other.ink)
            && c.size_word.is_none_or(|size| Some(size) == other.size_word)
            && c.place_phrase
                .is_none_or(|phrase| other.place.phrases().contains(&phrase))
    }
}

/// Draws a sketch of a category chosen uniformly from the seed; the same as
/// [`draw_category`] with that category.
pub fn draw(seed: u64, size: u32, spread: Spread) -> Sketch {
    let category = Rng::new(seed ^ 0x5EED_CA7E_6012_1E55).below(CATEGORIES.len());
    draw_category(category, seed, size, spread)
}

/// Draws a sketch of `category` (an index into [`CATEGORIES`]) on a
/// `size` x `size` sheet. A [`Spread::Mixed`] drawing takes its spread
/// from the seed.
///
/// # Panics
///
/// If `category` is out of range.
pub fn draw_category(category: usize, seed: u64, size: u32, spread: Spread) -> Sketch {
    assert!(
        category < CATEGORIES.len(),
        "category {category} out of range"
    );
    let mut rng = Rng::new(seed ^ (category as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03));
    let wide = spread.of_drawing(seed) == Spread::Wide;
    let mut shape = Shape::default();
    SHAPES[category](&mut shape, &mut rng);
    let placement = Placement::pick(category, &shape, wide, &mut rng);
    let pen = Pen::pick(category, placement.extent, wide, &mut rng);
    let ink = INKS[pen.ink].0;
    let (caption, claims) = caption(&mut rng, CATEGORIES[category], ink, &placement);
    let truth = Truth {
        category,
        ink,
        size_word: placement.size_word,
        place: placement.place,
        claims,
    };

    let mut canvas = Canvas::new(size as usize);
    lay_paper(&mut canvas, &mut rng);
    pen.ink_shape(&mut canvas, &shape, &placement, &mut rng);
    Sketch {
        image: canvas.into_image(),
        category,
        caption,
        truth,
    }
}

#[cfg(test)]
mod tests {
    use super::geometry::{atan2, cos, sin};
    use super::*;

    #[test]
    fn the_draw_screen_offers_the_inks_first() {
        // Its palette (www/game.js) starts with the inks the model saw, in order.
        let page = include_str!("../../../www/game.js");
        let mut last = 0;
        for (name, [r, g, b]) in INKS {
            let entry = format!("[\"{name}\", \"#{r:02x}{g:02x}{b:02x}\"]");
            let at = page
                .find(&entry)
                .unwrap_or_else(|| panic!("www/game.js lacks {entry}"));
            assert!(at > last, "{entry} is out of order in www/game.js");
            last = at;
        }
    }

    const SIZE: u32 = 80;

    /// Pixels clearly darker or more coloured than the paper.
    fn ink_pixels(img: &RgbImage) -> Vec<[f32; 3]> {
        img.pixels()
            .map(|p| p.0.map(|c| c as f32 / 255.0))
            .filter(|c| c.iter().any(|&v| v < 0.7))
            .collect()
    }

    /// The palette colour that best explains an ink pixel as that colour
    /// blended over white paper, whatever the blend.
    fn nearest_ink(p: [f32; 3]) -> &'static str {
        let absorbed = p.map(|c| 1.0 - c);
        let residual = |ink: [u8; 3]| {
            let d = ink.map(|c| 1.0 - c as f32 / 255.0);
            let dd: f32 = d.iter().map(|x| x * x).sum();
            let t = d.iter().zip(&absorbed).map(|(a, b)| a * b).sum::<f32>() / dd;
            d.iter()
                .zip(&absorbed)
                .map(|(a, b)| (b - a * t).powi(2))
                .sum::<f32>()
        };
        INKS.iter()
            .min_by(|a, b| residual(a.1).total_cmp(&residual(b.1)))
            .unwrap()
            .0
    }

    #[test]
    fn same_seed_same_sketch() {
        for seed in [0, 1, 77, u64::MAX] {
            let (a, b) = (
                draw(seed, SIZE, Spread::Standard),
                draw(seed, SIZE, Spread::Standard),
            );
            assert_eq!(a.image, b.image);
            assert_eq!(a.caption, b.caption);
            assert_eq!(a.category, b.category);
            let c = draw_category(a.category, seed, SIZE, Spread::Standard);
            assert_eq!(a.image, c.image);
        }
    }

    #[test]
    fn mixed_spread_alternates_wide_and_standard() {
        for seed in 0..4 {
            let mixed = draw(seed, SIZE, Spread::Mixed);
            let own = if seed % 2 == 0 {
                Spread::Wide
            } else {
                Spread::Standard
            };
            assert_eq!(mixed.image, draw(seed, SIZE, own).image, "seed {seed}");
        }
        // Wide and standard drawings of the same seed differ.
        assert_ne!(
            draw(0, SIZE, Spread::Wide).image,
            draw(0, SIZE, Spread::Standard).image
        );
    }

    #[test]
    fn rng_is_fixed() {
        // SplitMix64's published first outputs for seed 1234567.
        let mut rng = Rng::new(1_234_567);
        assert_eq!(rng.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(rng.next_u64(), 3_203_168_211_198_807_973);
        let mut items: Vec<u32> = (0..10).collect();
        rng.shuffle(&mut items);
        let mut sorted = items.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..10).collect::<Vec<_>>());
        for _ in 0..1000 {
            let x = rng.f32();
            assert!((0.0..1.0).contains(&x));
            assert!(rng.below(7) < 7);
        }
    }

    #[test]
    fn own_trig_is_accurate() {
        for i in -100..100 {
            let x = i as f32 * 0.173;
            assert!((sin(x) - x.sin()).abs() < 1e-5, "sin {x}");
            assert!((cos(x) - x.cos()).abs() < 1e-5, "cos {x}");
            let (y, z) = (x.sin() * 3.0, x.cos() - 0.2);
            assert!((atan2(y, z) - y.atan2(z)).abs() < 1e-4, "atan2 {y} {z}");
        }
    }

    #[test]
    fn every_category_is_inked_and_named() {
        // A small arrow in the wide spread's thinnest pen can be 20 pixels
        // at this size; a wide drawing coloured in can fill a disc 95% across the
        // sheet (71% of it), a standard one 84% across (55%).
        let area = (SIZE * SIZE) as usize;
        let spreads = [
            (Spread::Standard, 40, area * 3 / 5),
            (Spread::Wide, 10, area * 3 / 4),
        ];
        for ((category, name), (spread, least, most)) in CATEGORIES
            .iter()
            .enumerate()
            .flat_map(|c| spreads.map(|s| (c, s)))
        {
            for seed in 0..3 {
                let s = draw_category(category, seed, SIZE, spread);
                assert_eq!(s.category, category);
                assert_eq!(s.image.dimensions(), (SIZE, SIZE));
                let ink = ink_pixels(&s.image).len();
                assert!(
                    ink > least,
                    "{name} {spread:?} seed {seed}: only {ink} ink pixels"
                );
                assert!(ink < most, "{name} {spread:?} seed {seed}: {ink}");
                assert!(s.caption.contains(name), "{:?} lacks {name}", s.caption);
            }
        }
    }

    #[test]
    fn categories_are_uniform_enough() {
        let mut counts = [0; CATEGORIES.len()];
        for seed in 0..2000 {
            let c = Rng::new(seed ^ 0x5EED_CA7E_6012_1E55).below(CATEGORIES.len());
            counts[c] += 1;
        }
        assert!(counts.iter().all(|&n| (60..140).contains(&n)), "{counts:?}");
    }

    #[test]
    fn evaluation_template_and_articles() {
        let (mut plain, mut template_a) = (0, 0);
        for seed in 0..400 {
            let s = draw(seed, 8, Spread::Standard);
            let name = CATEGORIES[s.category];
            let an = matches!(name, "umbrella" | "arrow");
            if s.caption == format!("a drawing of {} {name}", if an { "an" } else { "a" }) {
                plain += 1;
            }
            // The evaluation template as written, "a" before a vowel too.
            if an && s.caption == format!("a drawing of a {name}") {
                template_a += 1;
                continue;
            }
            for bad in [
                "a umbrella",
                "a arrow",
                "a orange",
                "an red",
                "an small",
                "an large",
            ] {
                let c = format!(" {} ", s.caption.replace(',', " "));
                assert!(!c.contains(&format!(" {bad} ")), "{:?}", s.caption);
            }
        }
        assert!(plain > 40, "only {plain} plain captions");
        assert!(
            template_a > 3,
            "only {template_a} of 'a umbrella' or 'a arrow'"
        );
    }

    /// Whether every colour, size and place `caption` names, read from its
    /// words, holds for the drawing `truth` describes.
    fn words_hold(caption: &str, truth: &Truth) -> bool {
        let words: Vec<&str> = caption.split([' ', ',']).collect();
        let inks_ok = INKS
            .iter()
            .filter(|ink| words.contains(&ink.0))
            .all(|ink| ink.0 == truth.ink);
        let sizes_ok = ["small", "large"]
            .iter()
            .filter(|w| words.contains(w))
            .all(|w| truth.size_word == Some(*w));
        // The longest phrase found: "at the top" is also part of "at the top left".
        let place = Place::ALL
            .iter()
            .flat_map(|p| p.phrases())
            .filter(|phrase| caption.contains(*phrase))
            .max_by_key(|phrase| phrase.len());
        let places_ok = place.is_none_or(|phrase| truth.place.phrases().contains(phrase));
        inks_ok && sizes_ok && places_ok
    }

    #[test]
    fn captions_fit_the_drawings_they_describe() {
        let sketches: Vec<Sketch> = (0..300)
            .map(|seed| draw(seed, 32, Spread::Standard))
            .collect();
        let (mut shared, mut refused) = (0, 0);
        for a in &sketches {
            assert!(a.truth.caption_fits(&a.truth), "{:?}", a.caption);
            for b in &sketches {
                let fits = a.truth.caption_fits(&b.truth);
                let expected = a.category == b.category && words_hold(&a.caption, &b.truth);
                assert_eq!(fits, expected, "{:?} for {:?}", a.caption, b.caption);
                let name = CATEGORIES[a.category];
                let plain = [
                    format!("a drawing of a {name}"),
                    format!("a drawing of an {name}"),
                ];
                if a.category == b.category && plain.contains(&a.caption) {
                    assert!(fits, "{:?} must fit every one", a.caption);
                }
                if a.category == b.category {
                    if fits { shared += 1 } else { refused += 1 }
                }
            }
        }
        assert!(
            shared > 500 && refused > 500,
            "{shared} shared, {refused} refused"
        );
    }

    #[test]
    fn caption_colour_matches_ink() {
        let mut checked = 0;
        for seed in 0..80 {
            let s = draw(seed, SIZE, Spread::Standard);
            let Some(named) = INKS
                .iter()
                .map(|i| i.0)
                .find(|c| s.caption.split([' ', ',']).any(|w| w == *c))
            else {
                continue;
            };
            // Judge by the strongest ink, where the pen covered fully.
            let mut ink = ink_pixels(&s.image);
            ink.sort_by(|a, b| a.iter().sum::<f32>().total_cmp(&b.iter().sum()));
            let strong = &ink[..ink.len().div_ceil(4)];
            let mut votes = [0; INKS.len()];
            for &p in strong {
                let name = nearest_ink(p);
                votes[INKS.iter().position(|i| i.0 == name).unwrap()] += 1;
            }
            let best = (0..INKS.len()).max_by_key(|&i| votes[i]).unwrap();
            assert_eq!(INKS[best].0, named, "seed {seed}: {:?}", s.caption);
            checked += 1;
        }
        assert!(checked > 12, "only {checked} captions named a colour");
    }

    #[test]
    fn seeds_differ() {
        let inked = |img: &RgbImage| -> Vec<bool> {
            img.pixels().map(|p| p.0.iter().any(|&c| c < 180)).collect()
        };
        // Two large filled shapes in the centre may overlap a lot, so judge
        // the average and only rule out near copies one by one.
        let mut total = 0.0;
        for (category, name) in CATEGORIES.iter().enumerate() {
            let seed = 10 + 7 * category as u64;
            let a = inked(&draw_category(category, seed, SIZE, Spread::Standard).image);
            let b = inked(&draw_category(category, seed + 1, SIZE, Spread::Standard).image);
            let both = a.iter().zip(&b).filter(|(x, y)| **x && **y).count();
            let either = a.iter().zip(&b).filter(|(x, y)| **x || **y).count();
            let overlap = both as f32 / either as f32;
            assert!(overlap < 0.9, "{name} seed {seed}: ink overlap {overlap}");
            total += overlap;
        }
        let mean = total / CATEGORIES.len() as f32;
        assert!(mean < 0.4, "mean ink overlap {mean}");
    }

    #[test]
    fn any_size_works() {
        for size in [1, 2, 16, 33] {
            let s = draw(5, size, Spread::Standard);
            assert_eq!(s.image.dimensions(), (size, size));
        }
        assert_eq!(draw(5, 0, Spread::Standard).image.dimensions(), (0, 0));
    }
}
