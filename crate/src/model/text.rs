//! The text encoder: a causal transformer over CLIP BPE tokens, pooled at the
//! end-of-text token.

use burn::module::{Module, Param};
use burn::nn::Embedding;
use burn::tensor::{Bool, DType, Device, Int, Tensor, TensorData};

use super::attention::Mask;
use super::encoder::Encoder;
use super::norm::LayerNorm;
use crate::config::TextPooling;
use crate::device::is_cpu_inference;
use crate::error::{Error, Result};

#[derive(Module, Debug)]
pub struct TextEmbeddings {
    pub token_embedding: Embedding,
    pub position_embedding: Param<Tensor<2>>,
}

impl TextEmbeddings {
    /// `tokens`: `[batch, len]` ids, `positions`: each column's position ->
    /// `[batch, len, hidden]`.
    pub fn forward(&self, tokens: Tensor<2, Int>, positions: Tensor<1, Int>) -> Tensor<3> {
        let positions = self.position_embedding.val().select(0, positions);
        // The table may be f16 (on a GPU with shader-f16): its rows become f32.
        self.token_embedding.forward(tokens).cast(DType::F32) + positions.unsqueeze::<3>()
    }
}

#[derive(Module, Debug)]
pub struct TextTransformer {
    pub embeddings: TextEmbeddings,
    pub encoder: Encoder,
    pub final_layer_norm: LayerNorm,
    /// Which token's state becomes the text's (from `eos_token_id`).
    #[module(skip)]
    pub pooling: TextPooling,
}

/// The position whose hidden state represents the text, as transformers picks it.
pub fn pool_position(ids: &[i64], pooling: TextPooling) -> usize {
    let mut best = 0;
    for (i, &id) in ids.iter().enumerate() {
        match pooling {
            // First occurrence of the maximum, like torch.argmax.
            TextPooling::ArgmaxId if id > ids[best] => best = i,
            TextPooling::FirstToken(eos) if id == eos => return i,
            _ => {}
        }
    }
    match pooling {
        TextPooling::ArgmaxId => best,
        // No end token at all (not produced by our tokenizer): transformers'
        // argmax over an all-false row gives position 0.
        TextPooling::FirstToken(_) => 0,
    }
}

impl TextTransformer {
    pub fn max_positions(&self) -> usize {
        self.embeddings.position_embedding.dims()[0]
    }

    /// `ids`: one row of token ids per text (all rows the same length).
    /// Returns the final-LayerNormed state at each text's pooling position.
    pub fn forward(&self, ids: &[Vec<i64>]) -> Result<Tensor<2>> {
        let Some(first) = ids.first() else {
            return Err(Error::Input("no texts to encode".into()));
        };
        if ids
            .iter()
            .any(|row| row.len() != first.len() || row.is_empty())
        {
            return Err(Error::Input(
                "token rows must be non-empty and of equal length".into(),
            ));
        }
        let vocab = self.embeddings.token_embedding.weight.dims()[0] as i64;
        if let Some(bad) = ids.iter().flatten().find(|&&id| id < 0 || id >= vocab) {
            return Err(Error::Input(format!(
                "token id {bad} is outside the vocabulary of {vocab}"
            )));
        }
        let pool: Vec<usize> = ids
            .iter()
            .map(|row| pool_position(row, self.pooling))
            .collect();
        // The mask is causal, so tokens after the last pooled one cannot change
        // any pooled state: drop them (77 -> a handful for short prompts).
        let len = pool.iter().max().unwrap() + 1;
        if len > self.max_positions() {
            return Err(Error::Input(format!(
                "{len} tokens exceed the model's {} positions",
                self.max_positions()
            )));
        }
        let device = self.embeddings.position_embedding.device();
        // Each text as long as its pooled position needs: packed into one
        // sequence on the CPU (no work on padding), padded to the longest on
        // the GPU (regular shapes for its kernels) and under training.
        let lens: Vec<usize> = match is_cpu_inference(&device) {
            true => pool.iter().map(|p| p + 1).collect(),
            false => vec![len; ids.len()],
        };
        let packed = lens.len() > 1 && lens.iter().any(|&l| l != len);
        let (batch, seq) = match packed {
            true => (1, lens.iter().sum()),
            false => (ids.len(), len),
        };
        let flat: Vec<i64> = ids
            .iter()
            .zip(&lens)
            .flat_map(|(row, &l)| row[..l].iter().copied())
            .collect();
        let positions: Vec<i64> = match packed {
            true => lens.iter().flat_map(|&l| 0..l as i64).collect(),
            false => (0..len as i64).collect(),
        };
        let tokens = Tensor::<2, Int>::from_data(TensorData::new(flat, [batch, seq]), &device);
        let positions = Tensor::<1, Int>::from_data(TensorData::new(positions, [seq]), &device);
        let x = self.embeddings.forward(tokens, positions);
        let hidden = packed.then(|| own_text_causal(&lens, &device));
        let mask = hidden.as_ref().map_or(Mask::Causal, Mask::Hidden);
        let x = self.encoder.forward(x, mask, &self.final_layer_norm);
        let [_, _, width] = x.dims();
        // Each text's pooled row in the flattened `[batch * seq, width]`,
        // where texts follow each other, `lens` apart.
        let mut start = 0;
        let rows: Vec<i64> = pool
            .iter()
            .zip(&lens)
            .map(|(&p, &l)| {
                start += l;
                (start - l + p) as i64
            })
            .collect();
        let rows = Tensor::<1, Int>::from_data(TensorData::new(rows, [ids.len()]), &device);
        Ok(x.reshape([batch * seq, width]).select(0, rows))
    }
}

/// For texts of `lens` tokens packed one after another: `true` where a
/// query must not see a key, i.e. the key belongs to another text or lies
/// after the query. `[1, 1, total, total]`.
fn own_text_causal(lens: &[usize], device: &Device) -> Tensor<4, Bool> {
    let total: usize = lens.iter().sum();
    let text_of: Vec<usize> = lens
        .iter()
        .enumerate()
        .flat_map(|(text, &l)| std::iter::repeat_n(text, l))
        .collect();
    let hidden: Vec<bool> = (0..total * total)
        .map(|i| {
            let (query, key) = (i / total, i % total);
            key > query || text_of[key] != text_of[query]
        })
        .collect();
    Tensor::from_data(TensorData::new(hidden, [1, 1, total, total]), device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooling_follows_transformers() {
        let ids = [49406, 320, 1929, 49407, 49407, 49407];
        assert_eq!(pool_position(&ids, TextPooling::ArgmaxId), 3);
        assert_eq!(pool_position(&ids, TextPooling::FirstToken(49407)), 3);
        assert_eq!(pool_position(&[5, 9, 9, 1], TextPooling::ArgmaxId), 1);
        assert_eq!(pool_position(&[5, 6], TextPooling::FirstToken(49407)), 0);
    }
}
