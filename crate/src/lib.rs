//! webclip: OpenAI's CLIP on Burn, one core for the browser and natively.

pub mod error;

pub use error::{Error, Result};
