//! Scaled dot-product attention, the one place the encoders compute
//! `softmax(Q·Kᵀ·scale + mask)·V`.

use burn::tensor::activation::softmax;
use burn::tensor::{Bool, Tensor};

/// Whether a query may look at keys after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mask {
    /// Every query sees every key (the vision encoder).
    None,
    /// Query `i` sees keys `0..=i` (the text encoder).
    Causal,
}

/// `q`, `k`, `v`: `[batch, heads, tokens, head_dim]`; returns the same shape.
pub fn scaled_dot_product_attention(
    q: Tensor<4>,
    k: Tensor<4>,
    v: Tensor<4>,
    mask: Mask,
) -> Tensor<4> {
    let [batch, heads, tokens, head_dim] = q.dims();
    let scale = (head_dim as f64).powf(-0.5);
    let mut scores = q.matmul(k.swap_dims(2, 3)).mul_scalar(scale);
    if mask == Mask::Causal {
        // `tril_mask` is true strictly above the diagonal: the future keys.
        let future = Tensor::<2, Bool>::tril_mask([tokens, tokens], 0, &scores.device())
            .reshape([1, 1, tokens, tokens])
            .expand([batch, heads, tokens, tokens]);
        scores = scores.mask_fill(future, f32::NEG_INFINITY);
    }
    softmax(scores, 3).matmul(v)
}
