//! webclip: OpenAI's CLIP on Burn, one core for the browser and natively.
//!
//! [`model::ClipModel`] loads a model folder in the Hugging Face layout and
//! gives image and text embeddings; [`zeroshot`] turns them into class
//! probabilities.

pub mod attention;
pub mod clip;
pub mod config;
pub mod device;
pub mod encoder;
pub mod error;
#[cfg(not(target_family = "wasm"))]
pub mod eval;
pub mod kernels;
pub mod loader;
pub mod model;
pub mod preprocess;
pub mod rng;
pub mod sketch;
pub mod text;
pub mod tokenizer;
#[cfg(not(target_family = "wasm"))]
pub mod train;
pub mod vision;
#[cfg(target_family = "wasm")]
pub mod web;
pub mod zeroshot;

pub use error::{Error, Result};
