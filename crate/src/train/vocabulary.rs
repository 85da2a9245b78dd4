//! The rows of the token embedding a run can train.
//!
//! CLIP's table has 49,408 rows, four fifths of the sketch model's weights,
//! yet captions use a few dozen tokens. A row no caption uses gets a zero
//! gradient at every step, so AdamW never moves it (its moments stay zero,
//! and embeddings are not decayed), but the backward pass, the gradient
//! clipping and the optimizer would still sweep the whole table each step.
//! The run therefore trains a table of the rows its captions can use, with
//! token ids renumbered into it (in the same order, so the largest id stays
//! the largest), and writes those rows back into the whole table on saving.
//! The arithmetic is the same up to rounding (the global gradient norm sums
//! fewer terms), and the optimizer and clipping take 0.02 s of a step instead
//! of 0.11 (sketch model, 2 cores).

use std::collections::{BTreeSet, HashMap};

use burn::tensor::{Tensor, TensorData};

use crate::config::TextPooling;
use crate::error::{Error, Result};
use crate::model::Clip;
use crate::model::weights::param_values;
use crate::tokenizer::ClipTokenizer;

pub(super) struct Vocabulary {
    /// The trained rows' token ids, ascending.
    ids: Vec<i64>,
    /// A token id's row in the trained table.
    row_of: HashMap<i64, i64>,
    /// The whole table as the run found it, `[tokens, width]` row-major:
    /// the rows no caption uses keep these values.
    table: Vec<f32>,
    width: usize,
    /// How the whole model pools its texts.
    pooling: TextPooling,
}

impl Vocabulary {
    /// The rows needed by every token of `texts` (with the start, end and
    /// padding tokens the tokenizer adds), for `clip`'s table.
    pub(super) fn of(texts: &[String], tokenizer: &ClipTokenizer, clip: &Clip) -> Result<Self> {
        let mut ids = BTreeSet::new();
        // A few hundred texts at a time: a pairs file's every text as
        // padded rows at once could take more memory than its images.
        for chunk in texts.chunks(256) {
            let chunk: Vec<&str> = chunk.iter().map(String::as_str).collect();
            ids.extend(tokenizer.encode_batch(&chunk)?.into_iter().flatten());
        }
        let ids: Vec<i64> = ids.into_iter().collect();
        let row_of = ids
            .iter()
            .enumerate()
            .map(|(row, &id)| (id, row as i64))
            .collect();
        let weight = &clip.text_model.embeddings.token_embedding.weight;
        let [_, width] = weight.dims();
        let table = param_values(weight);
        Ok(Self {
            ids,
            row_of,
            table,
            width,
            pooling: clip.text_model.pooling,
        })
    }

    /// How many rows are trained.
    pub(super) fn len(&self) -> usize {
        self.ids.len()
    }

    /// `clip` with the table of the trained rows in place of the whole
    /// table (the same parameter), reading renumbered token ids.
    pub(super) fn compact(&self, mut clip: Clip) -> Clip {
        let rows: Vec<f32> = self
            .ids
            .iter()
            .flat_map(|&id| self.row(id).iter().copied())
            .collect();
        let text = &mut clip.text_model;
        let weight = text.embeddings.token_embedding.weight.clone();
        let shape = [self.ids.len(), self.width];
        text.embeddings.token_embedding.weight =
            weight.map(|whole| Tensor::from_data(TensorData::new(rows, shape), &whole.device()));
        text.pooling = match self.pooling {
            TextPooling::FirstToken(end) => TextPooling::FirstToken(self.row_of[&end]),
            // The renumbering keeps the order, so the largest id stays last.
            TextPooling::ArgmaxId => TextPooling::ArgmaxId,
        };
        clip
    }

    /// A compacted `clip` as the whole model: its trained rows written into
    /// the whole table.
    pub(super) fn expand(&self, mut clip: Clip) -> Clip {
        let text = &mut clip.text_model;
        let weight = text.embeddings.token_embedding.weight.clone();
        let trained = param_values(&weight);
        let mut table = self.table.clone();
        for (&id, values) in self.ids.iter().zip(trained.chunks(self.width)) {
            let start = id as usize * self.width;
            table[start..start + self.width].copy_from_slice(values);
        }
        let shape = [self.table.len() / self.width, self.width];
        text.embeddings.token_embedding.weight =
            weight.map(|rows| Tensor::from_data(TensorData::new(table, shape), &rows.device()));
        text.pooling = self.pooling;
        clip
    }

    /// Token ids as rows of the trained table.
    pub(super) fn renumber(&self, ids: Vec<Vec<i64>>) -> Result<Vec<Vec<i64>>> {
        ids.into_iter()
            .map(|row| {
                row.into_iter()
                    .map(|id| {
                        self.row_of.get(&id).copied().ok_or_else(|| {
                            Error::Input(format!(
                                "token {id} of a caption is not among the {} the run trains",
                                self.ids.len()
                            ))
                        })
                    })
                    .collect()
            })
            .collect()
    }

    fn row(&self, id: i64) -> &[f32] {
        let start = id as usize * self.width;
        &self.table[start..start + self.width]
    }
}
