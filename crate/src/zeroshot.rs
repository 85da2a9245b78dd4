//! Zero-shot classification: labels written as sentences, scored against an
//! image by scaled cosine similarity, softmax over the sentences.

use burn::tensor::Tensor;

use crate::error::{Error, Result};
use crate::kernels::softmax::softmax_last_dim;
use crate::pipeline::{ClipPipeline, read_rows_async};

pub const DEFAULT_TEMPLATE: &str = "a photo of a {}";

/// `template` with `{}` replaced by each label.
pub fn prompts<S: AsRef<str>>(labels: &[S], template: &str) -> Result<Vec<String>> {
    if labels.is_empty() {
        return Err(Error::Input(
            "no labels given: name at least one class".into(),
        ));
    }
    if !template.contains("{}") {
        return Err(Error::Input(format!(
            "template {template:?} has no {{}} where the label goes"
        )));
    }
    labels
        .iter()
        .map(|label| {
            let label = label.as_ref().trim();
            match label.is_empty() {
                true => Err(Error::Input("a label is empty".into())),
                false => Ok(template.replace("{}", label)),
            }
        })
        .collect()
}

/// `softmax(exp(logit_scale) · image · textᵀ)` over the texts: `[images, texts]`.
pub fn probabilities(
    image_embeds: Tensor<2>,
    text_embeds: Tensor<2>,
    logit_scale_exp: Tensor<1>,
) -> Tensor<2> {
    let logits = image_embeds.matmul(text_embeds.transpose()) * logit_scale_exp.unsqueeze::<2>();
    softmax_last_dim(logits)
}

/// The index of the largest value (the first, on ties): the top label.
pub fn argmax(values: &[f32]) -> usize {
    (0..values.len()).fold(0, |best, i| if values[i] > values[best] { i } else { best })
}

impl ClipPipeline {
    /// Probabilities of each label for each preprocessed image (rows: images).
    pub async fn classify_async<S: AsRef<str>>(
        &self,
        pixels: &[Vec<f32>],
        labels: &[S],
        template: &str,
    ) -> Result<Vec<Vec<f32>>> {
        let text = self.prompt_embeds_async(labels, template).await?;
        // Image embeddings stay on the device; only the probabilities come back.
        let images = self.image_embeds_batched(pixels)?;
        read_rows_async(probabilities(images, text, self.clip.logit_scale_exp())).await
    }

    /// Probabilities of each label for image embeddings computed before (a
    /// collection's rows).
    pub async fn label_embeddings_async<S: AsRef<str>>(
        &self,
        image_embeds: &[Vec<f32>],
        labels: &[S],
        template: &str,
    ) -> Result<Vec<Vec<f32>>> {
        if image_embeds.is_empty() {
            return Err(crate::Error::Input("no images to label".into()));
        }
        let text = self.prompt_embeds_async(labels, template).await?;
        let images = self.rows_to_tensor(image_embeds);
        read_rows_async(probabilities(images, text, self.clip.logit_scale_exp())).await
    }

    /// The labels written into `template`, embedded: `[labels, dim]`.
    async fn prompt_embeds_async<S: AsRef<str>>(
        &self,
        labels: &[S],
        template: &str,
    ) -> Result<Tensor<2>> {
        let prompts = prompts(labels, template)?;
        let prompt_refs: Vec<&str> = prompts.iter().map(String::as_str).collect();
        Ok(self.rows_to_tensor(&self.embed_texts_async(&prompt_refs).await?))
    }

    /// Blocking [`Self::label_embeddings_async`], for native callers.
    #[cfg(not(target_family = "wasm"))]
    pub fn label_embeddings<S: AsRef<str>>(
        &self,
        image_embeds: &[Vec<f32>],
        labels: &[S],
        template: &str,
    ) -> Result<Vec<Vec<f32>>> {
        burn::cubecl::future::block_on(self.label_embeddings_async(image_embeds, labels, template))
    }

    /// Blocking [`Self::classify_async`], for native callers.
    #[cfg(not(target_family = "wasm"))]
    pub fn classify<S: AsRef<str>>(
        &self,
        pixels: &[Vec<f32>],
        labels: &[S],
        template: &str,
    ) -> Result<Vec<Vec<f32>>> {
        burn::cubecl::future::block_on(self.classify_async(pixels, labels, template))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_fill_the_template_and_reject_bad_input() {
        let p = prompts(&["cat", " dog "], DEFAULT_TEMPLATE).unwrap();
        assert_eq!(p, ["a photo of a cat", "a photo of a dog"]);
        assert!(
            prompts::<&str>(&[], DEFAULT_TEMPLATE)
                .unwrap_err()
                .to_string()
                .contains("no labels")
        );
        assert!(
            prompts(&["cat"], "a photo")
                .unwrap_err()
                .to_string()
                .contains("{}")
        );
        assert!(prompts(&["cat", "  "], DEFAULT_TEMPLATE).is_err());
    }
}
