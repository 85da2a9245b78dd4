//! The WGSL kernels against Burn's own ops, on a real Vulkan driver
//! (lavapipe in CI): random inputs over a grid of shapes, masks and extreme
//! values; and proof that the model on wgpu really runs them.

mod common;

use std::sync::Mutex;

use burn::tensor::activation::softmax;
use burn::tensor::{DType, Device, Tensor, TensorData};
use common::*;
use webclip::config::Activation;
use webclip::kernels::layer_norm::{NormWeights, add_layer_norm, layer_norm};
use webclip::kernels::linear::{kernel_weight, linear};
use webclip::kernels::{self, attention::fused_attention, softmax::softmax_last_dim};
use webclip::model::attention::{Mask, joint_self_attention, reference_attention};
use webclip::{device, pipeline::ClipPipeline};

/// f32 kernels against f32 references.
const TOLERANCE: f32 = 1e-5;
/// Attention with f16 key/value tiles: each key and value is rounded to 11
/// significant bits (relative error up to 2^-11 ~ 4.9e-4) before f32 math;
/// outputs of order 1 move by at most that (measured: 2.6e-4).
const F16_TOLERANCE: f32 = 1e-3;

/// The kernel switch is process-wide: tests that depend on it take turns.
static SWITCH: Mutex<()> = Mutex::new(());

fn gpu() -> Device {
    device::wgpu().expect("a Vulkan driver (Mesa's lavapipe in CI)")
}

/// Deterministic values in [-scale, scale).
fn values(count: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..count)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
        })
        .collect()
}

fn tensor<const D: usize>(data: &[f32], shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(data.to_vec(), shape), device)
}

fn host<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

#[test]
fn the_gpu_is_described() {
    gpu();
    let gpu = kernels::gpu().expect("recorded when the device started");
    eprintln!("{gpu:?}");
    assert!(!gpu.adapter.is_empty());
}

#[test]
fn softmax_matches_burn() {
    let _turn = SWITCH.lock().unwrap_or_else(|e| e.into_inner());
    let shapes: &[[usize; 2]] = &[
        [1, 1],
        [3, 1],
        [2, 5],
        [4, 63],
        [4, 64],
        [4, 65],
        [2, 1000],
        [1, 4097],
        [300, 77],
    ];
    for (i, &[rows, cols]) in shapes.iter().enumerate() {
        for scale in [1.0, 80.0] {
            let mut data = values(rows * cols, i as u64, scale);
            // Masked entries, as an attention mask writes them.
            for (j, x) in data.iter_mut().enumerate() {
                if cols > 1 && j % 7 == 3 {
                    *x = if j % 2 == 0 { f32::NEG_INFINITY } else { -1e9 };
                }
            }
            let before = kernels::launches().softmax;
            let got = host(softmax_last_dim(tensor(&data, [rows, cols], &gpu())));
            assert_eq!(kernels::launches().softmax, before + 1, "the kernel ran");
            let want = host(softmax(tensor(&data, [rows, cols], &device::cpu()), 1));
            let diff = max_abs_diff(&got, &want);
            assert!(
                diff <= TOLERANCE,
                "softmax {rows}x{cols} scale {scale}: {diff:e}"
            );
        }
    }
}

#[test]
fn softmax_of_masked_rows_is_zero_not_nan() {
    let _turn = SWITCH.lock().unwrap_or_else(|e| e.into_inner());
    let data = [
        f32::NEG_INFINITY,
        f32::NEG_INFINITY,
        -1e30,
        0.5,
        f32::NEG_INFINITY,
        1.5,
    ];
    let got = host(softmax_last_dim(tensor(&data, [2, 3], &gpu())));
    assert_eq!(&got[..3], &[0.0, 0.0, 0.0]);
    let e = (-1.0f32).exp();
    let want = [e / (e + 1.0), 0.0, 1.0 / (e + 1.0)];
    assert!(max_abs_diff(&got[3..], &want) < TOLERANCE, "{got:?}");
}

/// A LayerNorm's scales (around 1) and shifts (around 0).
fn gamma_beta(cols: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let gamma: Vec<f32> = values(cols, seed, 0.5).iter().map(|v| v + 1.0).collect();
    (gamma, values(cols, seed + 1, 0.5))
}

/// LayerNorm of `[.., cols]` rows computed in f64.
fn reference_layer_norm(x: &[f32], cols: usize, (gamma, beta): &(Vec<f32>, Vec<f32>)) -> Vec<f32> {
    x.chunks(cols)
        .flat_map(|row| {
            let mean = row.iter().map(|&v| v as f64).sum::<f64>() / cols as f64;
            let var = row.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / cols as f64;
            let inv = 1.0 / (var + 1e-5).sqrt();
            row.iter().enumerate().map(move |(i, &v)| {
                ((v as f64 - mean) * inv * gamma[i] as f64 + beta[i] as f64) as f32
            })
        })
        .collect()
}

/// A LayerNorm's weights on `device` (see [`gamma_beta`]).
fn norm_weights(cols: usize, seed: u64, device: &Device) -> NormWeights {
    let (gamma, beta) = gamma_beta(cols, seed);
    NormWeights {
        gamma: tensor(&gamma, [cols], device),
        beta: tensor(&beta, [cols], device),
        epsilon: 1e-5,
    }
}

#[test]
fn layer_norm_matches_burn() {
    let _turn = SWITCH.lock().unwrap_or_else(|e| e.into_inner());
    kernels::allow_variants(false, false);
    let (gpu, cpu) = (gpu(), device::cpu());
    // Rows shorter and longer than a workgroup, CLIP's widths, more rows than
    // one dispatch dimension holds.
    let shapes: &[[usize; 2]] = &[[1, 1], [3, 5], [50, 768], [7, 1024], [2, 4097], [70_000, 2]];
    for (i, &[rows, cols]) in shapes.iter().enumerate() {
        // Offset rows: a variance from E[x^2] - E[x]^2 would lose its digits.
        for (scale, offset) in [(1.0, 0.0), (3.0, 1000.0)] {
            let seed = 10 * i as u64;
            let data: Vec<f32> = values(rows * cols, seed, scale)
                .iter()
                .map(|v| v + offset)
                .collect();
            let delta = values(rows * cols, seed + 1, scale);
            let bias = values(cols, seed + 2, 1.0);
            let on = |device: &Device| {
                (
                    tensor(&data, [rows, cols], device),
                    tensor(&delta, [rows, cols], device),
                    tensor(&bias, [cols], device),
                    norm_weights(cols, seed + 3, device),
                )
            };
            let before = kernels::launches().layer_norm;
            let (x, d, b, norm) = on(&gpu);
            let plain = host(layer_norm(x.clone(), &norm));
            let (sum, normed) = add_layer_norm(x, d, Some(b), &norm);
            let (sum, normed) = (host(sum), host(normed));
            assert_eq!(kernels::launches().layer_norm, before + 2, "the kernel ran");

            let (x, d, b, _) = on(&cpu);
            let want_sum = host(x + (d + b.unsqueeze()));
            let what = format!("{rows}x{cols} offset {offset}");
            let diff = max_abs_diff(&sum, &want_sum);
            assert!(diff == 0.0, "residual sum {what}: {diff:e}");
            let weights = gamma_beta(cols, seed + 3);
            for (got, input, step) in [(&plain, &data, "layer norm"), (&normed, &sum, "added")] {
                let want = reference_layer_norm(input, cols, &weights);
                for ((got, want), input) in got
                    .chunks(cols)
                    .zip(want.chunks(cols))
                    .zip(input.chunks(cols))
                {
                    // A few roundings of values of the row's size, over its
                    // standard deviation (with epsilon), times gamma (<= 1.5).
                    let mean = input.iter().sum::<f32>() / cols as f32;
                    let var = input.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / cols as f32;
                    let size = input.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                    let tolerance = 6.0 * size * f32::EPSILON / (var + 1e-5).sqrt() + 1e-6;
                    let diff = max_abs_diff(got, want);
                    assert!(diff <= tolerance, "{step} {what}: {diff:e} > {tolerance:e}");
                }
            }
        }
    }
    kernels::reset_variants();
}

#[test]
fn linear_layers_match_burn_without_nan_at_extremes() {
    let _turn = SWITCH.lock().unwrap_or_else(|e| e.into_inner());
    let (gpu, cpu) = (gpu(), device::cpu());
    // [rows, in, out]: one row, edges of the 32x32 tiles, CLIP's widths
    // (a ViT-B/32 patch embedding, a joint projection, an MLP).
    let shapes: &[[usize; 3]] = &[
        [1, 4, 4],
        [7, 12, 36],
        [33, 100, 68],
        [50, 3072, 768],
        [50, 768, 2304],
        [56, 512, 2048],
    ];
    for (i, &[rows, inputs, outputs]) in shapes.iter().enumerate() {
        // Pre-activations up to ±200 with the larger scale: the sigmoid's
        // exponential overflows.
        for scale in [1.0, 200.0 / (inputs as f32).sqrt()] {
            let seed = 70 + 3 * i as u64;
            let x = values(rows * inputs, seed, scale);
            let w = values(inputs * outputs, seed + 1, 1.0);
            let b = values(outputs, seed + 2, 1.0);
            for (bias, activation) in [
                (false, None),
                (true, None),
                (true, Some(Activation::QuickGelu)),
            ] {
                let run = |device: &Device| {
                    host(linear(
                        tensor(&x, [1, rows, inputs], device),
                        tensor(&w, [inputs, outputs], device),
                        bias.then(|| tensor(&b, [outputs], device)),
                        activation,
                    ))
                };
                let before = kernels::launches().linear;
                let got = run(&gpu);
                assert_eq!(kernels::launches().linear, before + 1, "the kernel ran");
                assert!(
                    got.iter().all(|v| v.is_finite()),
                    "{rows}x{inputs}x{outputs}"
                );
                // Sums of `inputs` products of size up to `scale`, added in
                // another order than Burn's: a rounding of each.
                let tolerance = inputs as f32 * scale * f32::EPSILON * 2.0 + 1e-6;
                let diff = max_abs_diff(&got, &run(&cpu));
                assert!(
                    diff <= tolerance,
                    "{rows}x{inputs}x{outputs} scale {scale} bias {bias} {activation:?}: {diff:e} > {tolerance:e}"
                );
            }
        }
    }
}

#[test]
fn linear_layers_with_f16_weights_where_the_gpu_has_shader_f16() {
    let _turn = SWITCH.lock().unwrap_or_else(|e| e.into_inner());
    kernels::allow_variants(true, false);
    let (gpu, cpu) = (gpu(), device::cpu());
    let has_f16 = kernels::gpu().unwrap().shader_f16;
    let before = kernels::launches();
    // Inputs up to 1e5, past f16's largest value (65504): the activations
    // stay f32, so nothing overflows.
    for (i, &[rows, inputs, outputs, scale]) in
        [[7, 12, 36, 1], [50, 768, 2304, 1], [56, 512, 2048, 100_000]]
            .iter()
            .enumerate()
    {
        let scale = scale as f32;
        let seed = 300 + 3 * i as u64;
        let x = values(rows * inputs, seed, scale);
        let w = values(inputs * outputs, seed + 1, 1.0);
        let b = values(outputs, seed + 2, 1.0);
        let weight = kernel_weight(w.clone(), [inputs, outputs], &gpu);
        assert_eq!(
            weight.dtype() == DType::F16,
            has_f16,
            "f16 weights exactly where the GPU has shader-f16"
        );
        let got = host(linear(
            tensor(&x, [1, rows, inputs], &gpu),
            weight,
            Some(tensor(&b, [outputs], &gpu)),
            Some(Activation::QuickGelu),
        ));
        assert!(
            got.iter().all(|v| v.is_finite()),
            "{rows}x{inputs}x{outputs}"
        );
        // The reference: the same f16-rounded weights, f32 everywhere else.
        let rounded: Vec<f32> = match has_f16 {
            true => w.iter().map(|&v| half::f16::from_f32(v).to_f32()).collect(),
            false => w,
        };
        let want = host(linear(
            tensor(&x, [1, rows, inputs], &cpu),
            tensor(&rounded, [inputs, outputs], &cpu),
            Some(tensor(&b, [outputs], &cpu)),
            Some(Activation::QuickGelu),
        ));
        let tolerance = inputs as f32 * scale * f32::EPSILON * 2.0 + 1e-6;
        let diff = max_abs_diff(&got, &want);
        assert!(
            diff <= tolerance,
            "{rows}x{inputs}x{outputs}: {diff:e} > {tolerance:e}"
        );
    }
    let ran = kernels::launches().linear_f16 - before.linear_f16;
    assert_eq!(ran, if has_f16 { 3 } else { 0 });
    kernels::reset_variants();
}

/// Runs the fused kernel and the reference (Burn's ops on the CPU) on the
/// same `[batch, tokens, heads, head_dim]` inputs; returns the largest error.
#[allow(clippy::too_many_arguments)]
fn compare_attention(
    batch: usize,
    tokens: usize,
    heads: usize,
    head_dim: usize,
    mask: Mask,
    scale: f32,
    seed: u64,
    tolerance: f32,
) -> f32 {
    let shape = [batch, tokens, heads, head_dim];
    let n = batch * tokens * heads * head_dim;
    // `scale` widens the logits (q and k); values stay in [-1, 1] so the
    // tolerance is an absolute one on outputs of order 1.
    let [q, k, v] = [0, 1, 2].map(|i| values(n, seed * 3 + i, if i < 2 { scale } else { 1.0 }));
    let gpu = gpu();
    let got = fused_attention(
        &tensor(&q, shape, &gpu),
        &tensor(&k, shape, &gpu),
        &tensor(&v, shape, &gpu),
        mask == Mask::Causal,
        None,
    )
    .expect("the fused kernel takes f32 wgpu tensors");
    let cpu = device::cpu();
    let want = reference_attention(
        tensor(&q, shape, &cpu),
        tensor(&k, shape, &cpu),
        tensor(&v, shape, &cpu),
        mask,
    );
    let diff = max_abs_diff(&host(got), &host(want));
    assert!(
        diff <= tolerance,
        "attention b{batch} t{tokens} h{heads} d{head_dim} {mask:?} scale {scale}: {diff:e}"
    );
    diff
}

#[test]
fn attention_matches_burn_over_shapes() {
    let _turn = SWITCH.lock().unwrap_or_else(|e| e.into_inner());
    kernels::allow_variants(false, false);
    let mut seed = 0;
    for head_dim in [8, 32, 64, 80, 128] {
        for tokens in [1, 2, 7, 50, 65, 77, 197] {
            for mask in [Mask::None, Mask::Causal] {
                seed += 1;
                compare_attention(2, tokens, 3, head_dim, mask, 1.0, seed, TOLERANCE);
            }
        }
    }
}

#[test]
fn attention_at_the_largest_clip_length_and_extreme_logits() {
    let _turn = SWITCH.lock().unwrap_or_else(|e| e.into_inner());
    kernels::allow_variants(false, false);
    // ViT-L/14@336: 577 tokens, 16 heads of 64 (2 here to keep it quick).
    compare_attention(1, 577, 2, 64, Mask::None, 1.0, 100, TOLERANCE);
    compare_attention(1, 577, 1, 128, Mask::Causal, 1.0, 101, TOLERANCE);
    compare_attention(1, 577, 1, 80, Mask::None, 1.0, 104, TOLERANCE);
    // Scores of several hundred: exp overflows without the running maximum.
    compare_attention(2, 77, 2, 64, Mask::Causal, 6.0, 102, TOLERANCE);
    compare_attention(1, 50, 2, 32, Mask::None, 10.0, 103, TOLERANCE);
}

#[test]
fn attention_with_f16_tiles_where_the_gpu_has_shader_f16() {
    let _turn = SWITCH.lock().unwrap_or_else(|e| e.into_inner());
    kernels::allow_variants(true, false);
    let has_f16 = kernels::gpu().unwrap().shader_f16;
    let before = kernels::launches();
    let mut worst = 0.0f32;
    let mut seed = 200;
    for head_dim in [8, 32, 64, 80, 128] {
        for (tokens, mask) in [
            (1, Mask::None),
            (50, Mask::None),
            (77, Mask::Causal),
            (197, Mask::None),
            (577, Mask::None),
        ] {
            seed += 1;
            let tolerance = if has_f16 { F16_TOLERANCE } else { TOLERANCE };
            worst = worst.max(compare_attention(
                1, tokens, 2, head_dim, mask, 1.0, seed, tolerance,
            ));
        }
    }
    let ran = kernels::launches().attention_f16 - before.attention_f16;
    assert_eq!(
        ran,
        if has_f16 { 25 } else { 0 },
        "the f16 variant runs exactly where the GPU has shader-f16"
    );
    eprintln!("f16 tiles: max abs diff {worst:e} over {ran} launches");
    kernels::reset_variants();
}

#[test]
fn joint_attention_reads_one_projections_product_and_adds_its_bias() {
    let _turn = SWITCH.lock().unwrap_or_else(|e| e.into_inner());
    kernels::allow_variants(false, false);
    let mut seed = 300;
    // CLIP's head widths; a vision and a text length; heads side by side.
    for (heads, head_dim) in [(2, 64), (3, 32), (1, 80)] {
        for (tokens, mask) in [(50, Mask::None), (7, Mask::Causal), (197, Mask::None)] {
            seed += 1;
            let width = 3 * heads * head_dim;
            let (qkv, bias) = (
                values(2 * tokens * width, seed, 1.0),
                values(width, seed + 1, 1.0),
            );
            let run = |device: &Device| {
                host(joint_self_attention(
                    tensor(&qkv, [2, tokens, width], device),
                    Some(tensor(&bias, [width], device)),
                    heads,
                    mask,
                ))
            };
            let before = kernels::launches().attention;
            let got = run(&gpu());
            assert_eq!(kernels::launches().attention, before + 1, "the kernel ran");
            // The reference: Burn's ops on the CPU, after splitting and adding.
            let diff = max_abs_diff(&got, &run(&device::cpu()));
            assert!(
                diff <= TOLERANCE,
                "joint h{heads} d{head_dim} t{tokens} {mask:?}: {diff:e}"
            );
        }
    }
    kernels::reset_variants();
}

#[test]
fn attention_padding_mask_hides_keys_past_each_length() {
    let _turn = SWITCH.lock().unwrap_or_else(|e| e.into_inner());
    kernels::allow_variants(false, false);
    let (batch, tokens, heads, head_dim) = (2, 9, 2, 16);
    let shape = [batch, tokens, heads, head_dim];
    let n = batch * tokens * heads * head_dim;
    let [q, k, v] = [0, 1, 2].map(|i| values(n, 40 + i, 1.0));
    let gpu = gpu();
    let lens = [9u32, 4];
    let got = host(
        fused_attention(
            &tensor(&q, shape, &gpu),
            &tensor(&k, shape, &gpu),
            &tensor(&v, shape, &gpu),
            false,
            Some(&lens),
        )
        .unwrap(),
    );
    // Reference: each batch entry alone, with its keys cut to its length.
    let cpu = device::cpu();
    let per_batch = tokens * heads * head_dim;
    for (b, &len) in lens.iter().enumerate() {
        let len = len as usize;
        let slice = |x: &[f32], rows: usize| {
            x[b * per_batch..b * per_batch + rows * heads * head_dim].to_vec()
        };
        let want = host(reference_attention(
            tensor(&slice(&q, tokens), [1, tokens, heads, head_dim], &cpu),
            tensor(&slice(&k, len), [1, len, heads, head_dim], &cpu),
            tensor(&slice(&v, len), [1, len, heads, head_dim], &cpu),
            Mask::None,
        ));
        let diff = max_abs_diff(&got[b * per_batch..(b + 1) * per_batch], &want);
        assert!(diff <= TOLERANCE, "batch {b} (length {len}): {diff:e}");
    }
}

#[test]
fn the_model_on_wgpu_runs_the_kernels() {
    let _turn = SWITCH.lock().unwrap_or_else(|e| e.into_inner());
    kernels::allow_variants(false, false);
    let model = ClipPipeline::load_dir(&model_dir("tiny-quickgelu"), &gpu()).unwrap();
    let pixels = golden("tiny-quickgelu", "pixel_values").rows();
    let texts = ["a photo of a cat", "a dog"];

    let before = kernels::launches();
    let with_kernels = (
        model.embed_images(&pixels[..2]).unwrap(),
        model.classify(&pixels[..1], &texts, "{}").unwrap(),
    );
    let after = kernels::launches();
    // 2 vision layers for embed_images, 2 more when classify encodes its image,
    // 2 text layers for the prompts; one softmax for the probabilities.
    assert_eq!(
        after.attention - before.attention,
        2 + 2 + 2,
        "{before:?} -> {after:?}"
    );
    assert_eq!(after.softmax - before.softmax, 1, "{before:?} -> {after:?}");
    // Per tower: the first layer's first norm, then two fused residual-and-norm
    // steps per layer (the last one with the tower's final norm); the vision
    // tower adds its pre-norm.
    let (vision, text) = (2 + 2 * 2, 1 + 2 * 2);
    assert_eq!(
        after.layer_norm - before.layer_norm,
        2 * vision + text,
        "{before:?} -> {after:?}"
    );
    // Linear layers: the patch embedding, four a layer and the projection
    // for each image batch (embed_images, classify), four a layer and the
    // projection for the prompts.
    assert_eq!(
        after.linear - before.linear,
        2 * (1 + 2 * 4 + 1) + (2 * 4 + 1),
        "{before:?} -> {after:?}"
    );

    kernels::set_enabled(false);
    let model = ClipPipeline::load_dir(&model_dir("tiny-quickgelu"), &gpu()).unwrap();
    let without = (
        model.embed_images(&pixels[..2]).unwrap(),
        model.classify(&pixels[..1], &texts, "{}").unwrap(),
    );
    kernels::set_enabled(true);
    kernels::reset_variants();
    assert_eq!(kernels::launches(), after, "switched off, no kernel runs");
    assert_rows_close(
        "images with/without kernels",
        &with_kernels.0,
        &without.0,
        TOLERANCE,
    );
    assert_rows_close(
        "probs with/without kernels",
        &with_kernels.1,
        &without.1,
        TOLERANCE,
    );
}
