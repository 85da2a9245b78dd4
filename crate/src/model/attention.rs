//! Scaled dot-product attention, the one place the encoders compute
//! `softmax(Q·Kᵀ·scale + mask)·V`: our fused WGSL kernel on wgpu, Burn's ops
//! elsewhere.

use burn::tensor::activation::softmax;
use burn::tensor::{Bool, Tensor};

use crate::kernels::attention::{fused_attention, fused_joint_attention};

/// Which keys each query may look at.
#[derive(Clone, Copy, Debug)]
pub enum Mask<'a> {
    /// Every query sees every key (the vision encoder).
    None,
    /// Query `i` sees keys `0..=i` (the text encoder).
    Causal,
    /// `true` hides a key from a query: `[1, 1, queries, keys]`, the same
    /// for every batch entry and head (texts packed into one sequence).
    Hidden(&'a Tensor<4, Bool>),
}

impl PartialEq for Mask<'_> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Mask::None, Mask::None) | (Mask::Causal, Mask::Causal) => true,
            (Mask::Hidden(a), Mask::Hidden(b)) => std::ptr::eq(*a, *b),
            _ => false,
        }
    }
}

/// `q`, `k`, `v`: token-major `[batch, tokens, heads, head_dim]`, as the
/// projections produce them; returns the same layout.
pub fn scaled_dot_product_attention(
    q: Tensor<4>,
    k: Tensor<4>,
    v: Tensor<4>,
    mask: Mask,
) -> Tensor<4> {
    let fused = match mask {
        Mask::None | Mask::Causal => fused_attention(&q, &k, &v, mask == Mask::Causal, None),
        Mask::Hidden(_) => None,
    };
    fused.unwrap_or_else(|| reference_attention(q, k, v, mask))
}

/// [`scaled_dot_product_attention`] of a joint projection's product:
/// `qkv` is `[batch, tokens, 3 * hidden]` (queries, keys and values side by
/// side) before `bias` is added; returns `[batch, tokens, heads, head_dim]`.
pub fn joint_self_attention(
    qkv: Tensor<3>,
    bias: Option<Tensor<1>>,
    heads: usize,
    mask: Mask,
) -> Tensor<4> {
    let fused = match (mask, &bias) {
        (Mask::None | Mask::Causal, Some(bias)) => {
            fused_joint_attention(&qkv, bias, heads, mask == Mask::Causal)
        }
        _ => None,
    };
    if let Some(fused) = fused {
        return fused;
    }
    let qkv = match bias {
        Some(bias) => qkv + bias.unsqueeze(),
        None => qkv,
    };
    let [batch, tokens, width] = qkv.dims();
    let hidden = width / 3;
    let [q, k, v] = [0, 1, 2].map(|part| {
        qkv.clone()
            .slice([0..batch, 0..tokens, part * hidden..(part + 1) * hidden])
            .reshape([batch, tokens, heads, hidden / heads])
    });
    scaled_dot_product_attention(q, k, v, mask)
}

/// The same computation with Burn's matmul, softmax and matmul (the CPU path,
/// the training path, and the kernel's reference in tests).
pub fn reference_attention(q: Tensor<4>, k: Tensor<4>, v: Tensor<4>, mask: Mask) -> Tensor<4> {
    let [batch, tokens, heads, head_dim] = q.dims();
    let keys = k.dims()[1];
    let (q, k, v) = (q.swap_dims(1, 2), k.swap_dims(1, 2), v.swap_dims(1, 2));
    let scale = (head_dim as f64).powf(-0.5);
    let mut scores = q.matmul(k.swap_dims(2, 3)).mul_scalar(scale);
    let hidden = match mask {
        Mask::None => None,
        // `tril_mask` is true strictly above the diagonal: the future keys.
        Mask::Causal => Some(
            Tensor::<2, Bool>::tril_mask([tokens, keys], 0, &scores.device())
                .reshape([1, 1, tokens, keys]),
        ),
        Mask::Hidden(hidden) => Some(hidden.clone()),
    };
    if let Some(hidden) = hidden {
        let hidden = hidden.expand([batch, heads, tokens, keys]);
        scores = scores.mask_fill(hidden, f32::NEG_INFINITY);
    }
    softmax(scores, 3).matmul(v).swap_dims(1, 2)
}
