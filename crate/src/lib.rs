//! webclip: OpenAI's CLIP on Burn, one core for the browser and natively.
//!
//! [`pipeline::ClipPipeline`] loads a model folder in the Hugging Face layout
//! (config, [`model`] weights, [`tokenizer`], [`preprocess`]ing) on a
//! [`device`] and gives image and text embeddings; [`zeroshot`] turns them
//! into class probabilities. [`kernels`] are our WGSL kernels; [`sketch`],
//! [`train`] and [`eval`] make, train and measure the bundled sketch model.
//! The front ends are thin: the command line (`bin/`), the browser API
//! (`web`) and the tests.

pub mod collection;
pub mod config;
pub mod device;
pub mod error;
#[cfg(not(target_family = "wasm"))]
pub mod eval;
#[cfg(not(target_family = "wasm"))]
pub mod files;
pub mod kernels;
pub mod model;
pub mod pipeline;
pub mod preprocess;
pub mod probe;
pub mod rng;
pub mod sketch;
pub mod tokenizer;
#[cfg(not(target_family = "wasm"))]
pub mod train;
#[cfg(target_family = "wasm")]
pub mod web;
pub mod zeroshot;

pub use error::{Error, Result};
