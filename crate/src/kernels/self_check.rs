//! Our kernels checked on the GPU that will run them, when a model loads. A
//! browser whose WGSL compiler rejects a kernel skips its launches without a
//! word and leaves the output buffer as it was, so every result would be
//! silently wrong: each kernel runs once on small inputs, beside Burn's own
//! ops on the same device, and a disagreement turns the kernels off.

use burn::tensor::{DType, Device, Tensor, TensorData};

use super::attention::fused_attention;
use super::layer_norm::{NormWeights, add_layer_norm, layer_norm};
use super::linear::linear;
use super::softmax::softmax_last_dim;
use super::{enabled, gpu, set_enabled, use_f16};
use crate::config::Activation;
use crate::model::attention::{Mask, joint_self_attention, reference_attention};
use crate::rng::Rng;

/// Far above the kernels' rounding (f16 tiles included), far below what a
/// skipped launch leaves (outputs of order 0.1 to 1 that are zeros or stale).
const TOLERANCE: f32 = 1e-2;

/// Checks the kernels on `device` (nothing to do on the CPU, or when they are
/// off). On a disagreement they are turned off for the process and the
/// returned message says so; `None` when all is well.
pub async fn check_kernels(device: &Device) -> Option<String> {
    if !enabled() || *device == crate::device::cpu() {
        return None;
    }
    let failure = disagreement(device).await?;
    set_enabled(false);
    let adapter = gpu().map_or_else(|| "this GPU".to_string(), |gpu| gpu.adapter);
    Some(format!(
        "webclip's {failure} on {adapter}, so Burn's own operations run instead (slower, correct)"
    ))
}

/// The first kernel whose output differs from Burn's on `device`, described.
async fn disagreement(device: &Device) -> Option<String> {
    let mut rng = Rng::new(0x5e1f);
    let mut random = |shape: [usize; 4]| {
        let values: Vec<f32> = (0..shape.iter().product())
            .map(|_| rng.range(-1.0, 1.0))
            .collect();
        Tensor::<4>::from_data(TensorData::new(values, shape), device)
    };
    let scores = random([1, 2, 5, 50]);
    let softmax = softmax_last_dim(scores.clone());
    let reference = burn::tensor::activation::softmax(scores, 3);
    if let Some(why) = differs(softmax, reference).await {
        return Some(format!("softmax kernel {why}"));
    }
    // Burn's own ops for the same computations: the kernels switched off.
    let with_burn = |f: &dyn Fn() -> Tensor<4>| {
        set_enabled(false);
        let reference = f();
        set_enabled(true);
        reference
    };
    let [x, delta] = [(); 2].map(|_| random([1, 2, 5, 70]));
    let [bias, gamma, beta] = [(); 3].map(|_| random([1, 1, 1, 70]).reshape([70]));
    let norm = NormWeights {
        gamma,
        beta,
        epsilon: 1e-5,
    };
    let normed = || layer_norm(x.clone(), &norm);
    let added = || add_layer_norm(x.clone(), delta.clone(), Some(bias.clone()), &norm).1;
    let (rows, weight) = (
        random([1, 1, 10, 72]),
        random([1, 1, 72, 40]).reshape([72, 40]),
    );
    let dense_bias = random([1, 1, 1, 40]).reshape([40]);
    let activated = || {
        linear(
            rows.clone(),
            weight.clone(),
            Some(dense_bias.clone()),
            Some(Activation::QuickGelu),
        )
    };
    // With f16 weights where the model's matrices will be f16 (only there:
    // elsewhere the cast itself may be refused).
    let half_activated = || {
        linear(
            rows.clone(),
            weight.clone().cast(DType::F16),
            Some(dense_bias.clone()),
            Some(Activation::QuickGelu),
        )
    };
    let mut checks = vec![
        ("layer norm", &normed as &dyn Fn() -> Tensor<4>),
        ("residual layer norm", &added),
        ("linear layer", &activated),
    ];
    if use_f16() {
        checks.push(("linear layer (f16 weights)", &half_activated));
    }
    for (name, run) in checks {
        if let Some(why) = differs(run(), with_burn(run)).await {
            return Some(format!("{name} kernel {why}"));
        }
    }
    let qkv = random([1, 2, 7, 3 * 64]).reshape([2, 7, 3 * 64]);
    let qkv_bias = random([1, 1, 1, 3 * 64]).reshape([3 * 64]);
    let joint = || joint_self_attention(qkv.clone(), Some(qkv_bias.clone()), 2, Mask::Causal);
    if let Some(why) = differs(joint(), with_burn(&joint)).await {
        return Some(format!("joint attention kernel {why}"));
    }
    for (tokens, mask) in [(50, Mask::None), (7, Mask::Causal)] {
        let [q, k, v] = [(); 3].map(|_| random([2, tokens, 2, 32]));
        let fused = fused_attention(&q, &k, &v, mask == Mask::Causal, None)?;
        let reference = reference_attention(q, k, v, mask);
        if let Some(why) = differs(fused, reference).await {
            return Some(format!("attention kernel {why}"));
        }
    }
    None
}

/// Why `got` is not `want`, or `None` when they agree within [`TOLERANCE`].
async fn differs(got: Tensor<4>, want: Tensor<4>) -> Option<String> {
    let read = |t: Tensor<4>| async move {
        t.into_data_async()
            .await
            .map_err(|e| format!("{e:?}"))?
            .try_to_vec::<f32>()
            .map_err(|e| format!("{e:?}"))
    };
    let (got, want) = match (read(got).await, read(want).await) {
        (Ok(got), Ok(want)) => (got, want),
        (Err(e), _) | (_, Err(e)) => return Some(format!("could not run ({e})")),
    };
    verdict(&got, &want)
}

fn verdict(got: &[f32], want: &[f32]) -> Option<String> {
    let diff = got
        .iter()
        .zip(want)
        .map(|(g, w)| (g - w).abs())
        .fold(
            0.0f32,
            |m, d| if d.is_nan() { f32::INFINITY } else { m.max(d) },
        );
    (got.len() != want.len() || diff > TOLERANCE)
        .then(|| format!("disagrees with Burn's own operations (largest difference {diff:e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_or_nan_outputs_are_caught_and_rounding_is_not() {
        let want = [0.1, 0.7, 0.2];
        assert!(verdict(&[0.1001, 0.6999, 0.2], &want).is_none());
        assert!(verdict(&[0.0, 0.0, 0.0], &want).is_some());
        assert!(verdict(&[0.1, f32::NAN, 0.2], &want).is_some());
        assert!(verdict(&[0.1, 0.7], &want).is_some());
    }
}
