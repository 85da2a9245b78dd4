//! Our WGSL kernels against Burn's own ops on the same wgpu adapter, in one
//! run: attention at the real CLIP shapes, then (given a model folder) the
//! whole image and text encoders with and without the kernels, and where an
//! encoder layer's time goes.
//!
//! `cargo bench --profile dev --bench kernels -- [MODEL_DIR] [REPEATS]`

use std::time::Instant;

use burn::tensor::activation::{gelu, sigmoid};
use burn::tensor::{Device, Tensor, TensorData};
use webclip::kernels::{self, attention::fused_attention};
use webclip::model::attention::{Mask, reference_attention};
use webclip::pipeline::{ClipPipeline, read_rows};

/// Median milliseconds of `work`, each run waited for on the device.
fn time(device: &Device, repeats: usize, mut work: impl FnMut()) -> f64 {
    work();
    device.sync().unwrap();
    let mut samples: Vec<f64> = (0..repeats)
        .map(|_| {
            let start = Instant::now();
            work();
            device.sync().unwrap();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn random<const D: usize>(shape: [usize; D], device: &Device) -> Tensor<D> {
    let n: usize = shape.iter().product();
    let values: Vec<f32> = (0..n)
        .map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0)
        .collect();
    Tensor::from_data(TensorData::new(values, shape), device)
}

fn bench_attention(device: &Device, repeats: usize) {
    let gpu = kernels::gpu().unwrap_or_default();
    println!("adapter: {gpu:?}");
    println!("attention: ours (fused WGSL) vs Burn's matmul + softmax + matmul, batch 1");
    let shapes = [
        ("ViT-B/32 image", 50, 12, 64, Mask::None),
        ("ViT-B/16 image", 197, 12, 64, Mask::None),
        ("ViT-L/14@336 image", 577, 16, 64, Mask::None),
        ("text (77 tokens)", 77, 8, 64, Mask::Causal),
    ];
    for (name, tokens, heads, head_dim, mask) in shapes {
        let [q, k, v] = [0; 3].map(|_| random([1, tokens, heads, head_dim], device));
        let causal = mask == Mask::Causal;
        let mut ours = [0.0; 2];
        for (i, f16) in [false, true].into_iter().enumerate() {
            kernels::allow_variants(f16, false);
            ours[i] = time(device, repeats, || {
                fused_attention(&q, &k, &v, causal, None).expect("wgpu tensors");
            });
        }
        kernels::reset_variants();
        let burn = time(device, repeats, || {
            reference_attention(q.clone(), k.clone(), v.clone(), mask);
        });
        println!(
            "  {name:<20} ours {:8.3} ms (f16 tiles {:8.3} ms)  burn {burn:8.3} ms  speed-up {:.2}x ({:.2}x)",
            ours[0],
            ours[1],
            burn / ours[0],
            burn / ours[1]
        );
    }
}

fn bench_encoders(device: &Device, model_dir: &str, repeats: usize) {
    let model = ClipPipeline::load_dir(model_dir.as_ref(), device).expect("model loads");
    let size = model.config.vision_config.image_size;
    let pixels = vec![0.1f32; 3 * size * size];
    let prompts = [
        "a photo of a cat",
        "a photo of a dog",
        "a diagram",
        "a photo of a person",
        "a rocket",
        "coffee",
        "a circle",
        "a tree",
    ];
    println!("encoders ({model_dir}): with our kernels vs Burn's ops");
    let mut totals = [0.0; 2];
    for (i, enabled) in [true, false].into_iter().enumerate() {
        kernels::set_enabled(enabled);
        let image = time(device, repeats, || {
            read_rows(model.image_embeds_tensor(&[&pixels]).unwrap()).unwrap();
        });
        let text = time(device, repeats, || {
            read_rows(model.text_embeds_tensor(&prompts).unwrap()).unwrap();
        });
        totals[i] = image;
        let label = if enabled {
            "with kernels"
        } else {
            "Burn's ops"
        };
        println!("  {label:<13} image {image:9.2} ms  8 prompts {text:9.2} ms");
    }
    kernels::set_enabled(true);

    // One vision layer's operations at this model's shapes, timed alone.
    let v = &model.config.vision_config;
    let (tokens, hidden, mlp, heads) = (
        v.num_patches() + 1,
        v.hidden_size,
        v.intermediate_size,
        v.num_attention_heads,
    );
    let x = random([1, tokens, hidden], device);
    let w = random([hidden, hidden], device);
    let w_up = random([hidden, mlp], device);
    let w_down = random([mlp, hidden], device);
    let h = random([1, tokens, mlp], device);
    let gamma = random([hidden], device);
    let [q, k, vv] = [0; 3].map(|_| random([1, tokens, heads, hidden / heads], device));
    let matmuls = time(device, repeats, || {
        for _ in 0..4 {
            let _ = x.clone().matmul(w.clone().unsqueeze::<3>());
        }
        let _ = x.clone().matmul(w_up.clone().unsqueeze::<3>());
        let _ = h.clone().matmul(w_down.clone().unsqueeze::<3>());
    });
    let norms = time(device, repeats, || {
        for _ in 0..2 {
            let _ = burn::tensor::module::layer_norm(
                x.clone(),
                gamma.clone(),
                Some(gamma.clone()),
                1e-5,
            );
        }
    });
    let activation = time(device, repeats, || {
        let _ = match v.hidden_act {
            webclip::config::Activation::QuickGelu => {
                h.clone() * sigmoid(h.clone().mul_scalar(1.702))
            }
            webclip::config::Activation::Gelu => gelu(h.clone()),
        };
    });
    let attention = time(device, repeats, || {
        fused_attention(&q, &k, &vv, false, None).unwrap();
    });
    let residual = time(device, repeats, || {
        let _ = x.clone() + x.clone();
        let _ = x.clone() + x.clone();
    });
    let layers = v.num_hidden_layers as f64;
    let parts = [
        ("matmuls (6)", matmuls),
        ("layer norms (2)", norms),
        ("activation", activation),
        ("attention", attention),
        ("residual adds (2)", residual),
    ];
    let accounted: f64 = parts.iter().map(|(_, ms)| ms * layers).sum();
    println!(
        "  where one image's {:.2} ms go ({} layers, each op timed alone):",
        totals[0], v.num_hidden_layers
    );
    for (name, ms) in parts {
        println!(
            "    {name:<18} {:8.2} ms  {:5.1}%",
            ms * layers,
            100.0 * ms * layers / totals[0]
        );
    }
    println!(
        "    {:<18} {:8.2} ms  {:5.1}%  (embeddings, projection, readback, dispatch)",
        "the rest",
        totals[0] - accounted,
        100.0 * (totals[0] - accounted) / totals[0]
    );
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let model_dir = args.first().filter(|a| a.parse::<usize>().is_err());
    let repeats = args.iter().find_map(|a| a.parse().ok()).unwrap_or(10);
    let device = webclip::device::wgpu().expect("a wgpu adapter");
    bench_attention(&device, repeats);
    if let Some(dir) = model_dir {
        bench_encoders(&device, dir, repeats);
    }
}
