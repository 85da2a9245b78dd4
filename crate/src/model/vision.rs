//! The image encoder: a Vision Transformer (patch embedding, class token,
//! learned positions, pre-LayerNorm, blocks, post-LayerNorm on the class token).

use burn::module::{Module, Param};
use burn::tensor::Tensor;

use super::attention::Mask;
use super::dense::Dense;
use super::encoder::Encoder;
use super::norm::LayerNorm;

#[derive(Module, Debug)]
pub struct VisionEmbeddings {
    /// The strided convolution without bias, stored as the equivalent matrix
    /// over flattened `(channel, row, column)` patches: one matmul, no conv.
    pub patch_embedding: Dense,
    pub class_embedding: Param<Tensor<1>>,
    pub position_embedding: Param<Tensor<2>>,
    pub patch_size: usize,
}

impl VisionEmbeddings {
    /// `pixels`: `[batch, 3, size, size]` -> `[batch, 1 + patches, hidden]`.
    pub fn forward(&self, pixels: Tensor<4>) -> Tensor<3> {
        let [batch, channels, height, width] = pixels.dims();
        let p = self.patch_size;
        let (rows, cols) = (height / p, width / p);
        let patches = pixels
            .reshape([batch * channels, rows, p, cols, p])
            .swap_dims(2, 3) // [b*c, rows, cols, p, p]
            .reshape([batch, channels, rows * cols, p * p])
            .swap_dims(1, 2) // [b, patches, c, p*p]
            .reshape([batch, rows * cols, channels * p * p]);
        let patch_tokens = self.patch_embedding.forward(patches);
        let [hidden] = self.class_embedding.dims();
        let class_token = self
            .class_embedding
            .val()
            .reshape([1, 1, hidden])
            .expand([batch, 1, hidden]);
        let tokens = Tensor::cat(vec![class_token, patch_tokens], 1);
        tokens + self.position_embedding.val().unsqueeze::<3>()
    }
}

#[derive(Module, Debug)]
pub struct VisionTransformer {
    pub embeddings: VisionEmbeddings,
    pub pre_layernorm: LayerNorm,
    pub encoder: Encoder,
    pub post_layernorm: LayerNorm,
}

impl VisionTransformer {
    /// The post-LayerNormed class token: `[batch, hidden]`.
    pub fn forward(&self, pixels: Tensor<4>) -> Tensor<2> {
        let x = self.pre_layernorm.forward(self.embeddings.forward(pixels));
        // The last norm runs on every token, not the class token alone: it is
        // then part of the encoder's last fused step, one dispatch instead of
        // a slice and a separate norm.
        let x = self.encoder.forward(x, Mask::None, &self.post_layernorm);
        let [batch, _, hidden] = x.dims();
        x.slice([0..batch, 0..1]).reshape([batch, hidden])
    }
}
