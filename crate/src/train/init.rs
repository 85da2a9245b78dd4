//! The initial weights of a model trained from scratch: transformers'
//! `CLIPModel` initialisation, with the changes that let a small CLIP learn
//! from synthetic drawings (sharper attention, an empty class token, stronger
//! patches, a sine-cosine grid of patch positions).

use burn::tensor::Device;

use crate::config::{ClipConfig, VisionConfig};
use crate::error::Result;
use crate::model::Clip;
use crate::model::weights::{StoredParams, build_clip};
use crate::rng::Rng;

/// A freshly initialised CLIP, as transformers initialises `CLIPModel` (its
/// `_init_weights` with `initializer_factor` 1) but for the changes below,
/// deterministic for `seed`.
pub fn init_clip(config: &ClipConfig, seed: u64, device: &Device) -> Result<(Clip, StoredParams)> {
    build_clip(
        config,
        &|name, shape| initial_values(name, shape, seed, config),
        device,
        false,
    )
}

/// [`init_clip`] built for inference, as a loaded model is (on the CPU its
/// linear layers packed for our matmul): a stand-in of a shape for benchmarks.
pub fn random_clip(config: &ClipConfig, seed: u64, device: &Device) -> Result<Clip> {
    build_clip(
        config,
        &|name, shape| initial_values(name, shape, seed, config),
        device,
        true,
    )
    .map(|(clip, _)| clip)
}

/// transformers' initial value for the tensor `name` (`CLIPPreTrainedModel.
/// _init_weights`): normals whose spread depends on the layer, ones and zeros
/// for layer norms and biases, the configured temperature.
fn initial_values(name: &str, shape: &[usize], seed: u64, config: &ClipConfig) -> Vec<f32> {
    let count = shape.iter().product::<usize>().max(1);
    let constant = |v: f32| vec![v; count];
    if name == "logit_scale" {
        return constant(config.logit_scale_init_value);
    }
    if name.ends_with(".bias") {
        return constant(0.0);
    }
    let is_norm = ["layer_norm", "layernorm", "layrnorm"]
        .iter()
        .any(|n| name.contains(n));
    if is_norm {
        return constant(1.0);
    }
    if name == "vision_model.embeddings.position_embedding.weight" {
        return grid_positions(&config.vision_config);
    }
    // The class token starts empty (its input to the first LayerNorm is
    // zero, and so is the LayerNorm's output), so all it ends up holding is
    // what it gathers from the patches. Under transformers' random class
    // embedding it is one and the same vector for every image, outweighs
    // what attention adds, and every image embeds nearly alike (cosine
    // 0.97 between sketches), which stalls training from scratch.
    if name == "vision_model.embeddings.class_embedding" {
        return constant(0.0);
    }
    let (hidden, layers) = if name.starts_with("vision_model") || name == "visual_projection.weight"
    {
        let v = &config.vision_config;
        (v.hidden_size as f32, v.num_hidden_layers as f32)
    } else {
        let t = &config.text_config;
        (t.hidden_size as f32, t.num_hidden_layers as f32)
    };
    let in_proj = hidden.powf(-0.5) * (2.0 * layers).powf(-0.5);
    let std = if name.contains("q_proj") || name.contains("k_proj") {
        in_proj * QUERY_KEY_GAIN
    } else if name.contains("v_proj") || name.contains("fc2") {
        in_proj
    } else if name.contains("out_proj") || name.contains("projection") {
        hidden.powf(-0.5)
    } else if name.contains("fc1") {
        (2.0 * hidden).powf(-0.5)
    } else if name.contains("patch_embedding") {
        INITIALIZER_RANGE * PATCH_GAIN
    } else {
        // Token and text position embeddings.
        INITIALIZER_RANGE
    };
    let mut rng = Rng::for_name(seed, name);
    (0..count).map(|_| rng.normal() * std).collect()
}

/// Initial patch positions for training from scratch: a 2-D sine-cosine
/// pattern over the patch grid, about as strong as a patch's own embedding,
/// so that patch tokens know where they are from the first step (under
/// transformers' N(0, 0.02) the position is a few percent of each token).
/// The class token's row is zero, like its embedding (see [`initial_values`]).
fn grid_positions(v: &VisionConfig) -> Vec<f32> {
    const AMPLITUDE: f32 = 0.7;
    let (hidden, side) = (v.hidden_size, v.image_size / v.patch_size);
    let mut values = vec![0.0; hidden];
    // A quarter of the channels each: sin and cos of the row, of the column.
    let quarter = (hidden / 4).max(1);
    for patch in 0..side * side {
        let (row, col) = ((patch / side) as f32, (patch % side) as f32);
        values.extend((0..hidden).map(|c| {
            let (axis, part, k) = (c / (2 * quarter), (c / quarter) % 2, c % quarter);
            let frequency = 1.0 / 100f32.powf(k as f32 / quarter as f32);
            let angle = if axis == 0 { row } else { col } * frequency;
            if c >= 4 * quarter {
                0.0
            } else if part == 0 {
                AMPLITUDE * angle.sin()
            } else {
                AMPLITUDE * angle.cos()
            }
        }));
    }
    values
}

/// Queries and keys start this many times larger than transformers makes
/// them. At transformers' scale every token attends almost evenly to every
/// other, so a class token is a plain average, a drawing and its caption
/// both come out nearly the same whatever they show, and a small model
/// trained from scratch collapses to one embedding for everything instead of
/// learning (seen on two-shape drawings: the loss never left ln(batch)).
/// Sharper attention from the start keeps inputs apart.
const QUERY_KEY_GAIN: f32 = 5.0;

/// Patch embeddings start this many times larger than transformers makes
/// them, so that what a patch shows outweighs where it is (the sine-cosine
/// positions) in the tokens the first LayerNorm sees.
const PATCH_GAIN: f32 = 1.5;

/// transformers' `initializer_range` for CLIP.
const INITIALIZER_RANGE: f32 = 0.02;
