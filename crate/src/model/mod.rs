//! The CLIP network as Burn modules, nested and named like the Hugging Face
//! weights: both encoders, their projections into the shared embedding space
//! and the learned temperature. [`weights`] builds it from a file.

pub mod attention;
pub mod dense;
pub mod encoder;
pub mod norm;
pub mod safetensors;
pub mod text;
pub mod vision;
pub mod weights;

use burn::module::{Module, Param};
use burn::tensor::Tensor;

use crate::error::Result;
use dense::Dense;
use text::TextTransformer;
use vision::VisionTransformer;

#[derive(Module, Debug)]
pub struct Clip {
    pub vision_model: VisionTransformer,
    pub text_model: TextTransformer,
    pub visual_projection: Dense,
    pub text_projection: Dense,
    /// The log of the softmax temperature's inverse, as stored (a 0-d tensor
    /// in the file, kept as one element here).
    pub logit_scale: Param<Tensor<1>>,
}

/// Rows scaled to unit L2 norm.
pub fn l2_normalize(x: Tensor<2>) -> Tensor<2> {
    let norm = x.clone().square().sum_dim(1).sqrt();
    x / norm
}

impl Clip {
    /// `pixels`: `[batch, 3, size, size]` -> unit-norm `[batch, projection_dim]`.
    pub fn image_embeds(&self, pixels: Tensor<4>) -> Tensor<2> {
        l2_normalize(
            self.visual_projection
                .forward(self.vision_model.forward(pixels)),
        )
    }

    /// Token rows (see [`TextTransformer::forward`]) -> unit-norm `[texts, projection_dim]`.
    pub fn text_embeds(&self, ids: &[Vec<i64>]) -> Result<Tensor<2>> {
        let pooled = self.text_model.forward(ids)?;
        Ok(l2_normalize(self.text_projection.forward(pooled)))
    }

    /// `exp(logit_scale)`, the factor on cosine similarities, at most 100 as
    /// CLIP trains it (so a damaged scale cannot overflow the softmax).
    pub fn logit_scale_exp(&self) -> Tensor<1> {
        self.logit_scale.val().exp().clamp_max(100.0)
    }
}
