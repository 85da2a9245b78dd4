//! A collection of images as CLIP sees them: one unit-norm embedding per
//! image, with the file's name, size and modification time (so adding the
//! same files again encodes only new or changed ones), searched by any mix of
//! texts and images. The page keeps one in the browser; the command line
//! keeps one in a folder, in a format other tools read without webclip:
//!
//! - `index.json`: `{"format": "webclip-index", "version": 1, "model": ..,
//!   "embedding_dim": .., "images": ..}`, `model` the fingerprint of the
//!   model that made it (a collection never mixes models);
//! - `embeddings.safetensors`: one f32 tensor `embeddings`, `[images, dim]`;
//! - `images.jsonl`: one `{"path", "size", "modified"}` a line, in the
//!   order of the rows (`modified`: milliseconds since 1970).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub const INDEX_FILE: &str = "index.json";
pub const EMBEDDINGS_FILE: &str = "embeddings.safetensors";
pub const IMAGES_FILE: &str = "images.jsonl";
const FORMAT: &str = "webclip-index";
const VERSION: u32 = 1;
const EMBEDDINGS_TENSOR: &str = "embeddings";

/// One image of a collection: enough to tell whether its file changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// A path on disk, or a file name in the browser.
    pub path: String,
    pub size: u64,
    /// Milliseconds since 1970.
    pub modified: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    /// Row of the collection.
    pub index: usize,
    /// Cosine similarity of the unit-norm embeddings.
    pub score: f32,
}

#[derive(Serialize, Deserialize)]
struct Header {
    format: String,
    version: u32,
    model: String,
    embedding_dim: usize,
    images: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Collection {
    model: String,
    dim: usize,
    items: Vec<Item>,
    /// Row `i` (`dim` values) belongs to `items[i]`.
    embeddings: Vec<f32>,
    rows_by_path: HashMap<String, usize>,
}

impl Collection {
    /// An empty collection for the model with this fingerprint.
    pub fn new(model: &str, dim: usize) -> Self {
        Self {
            model: model.to_string(),
            dim,
            items: Vec::new(),
            embeddings: Vec::new(),
            rows_by_path: HashMap::new(),
        }
    }

    /// The fingerprint of the model whose embeddings these are.
    pub fn model(&self) -> &str {
        &self.model
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn items(&self) -> &[Item] {
        &self.items
    }

    pub fn embedding(&self, row: usize) -> &[f32] {
        &self.embeddings[row * self.dim..(row + 1) * self.dim]
    }

    /// The row of `path`, if it is in the collection.
    pub fn row_of(&self, path: &str) -> Option<usize> {
        self.rows_by_path.get(path).copied()
    }

    /// Whether `item` is here as it is (same path, size and time): its file
    /// need not be encoded again.
    pub fn has_unchanged(&self, item: &Item) -> bool {
        self.row_of(&item.path)
            .is_some_and(|row| self.items[row] == *item)
    }

    /// Adds `item` with its embedding, or replaces the row of the same path.
    pub fn insert(&mut self, item: Item, embedding: &[f32]) -> Result<()> {
        if embedding.len() != self.dim {
            return Err(Error::Input(format!(
                "an embedding of {} values for a collection of {}-value embeddings",
                embedding.len(),
                self.dim
            )));
        }
        match self.row_of(&item.path) {
            Some(row) => {
                self.embeddings[row * self.dim..(row + 1) * self.dim].copy_from_slice(embedding);
                self.items[row] = item;
            }
            None => {
                self.rows_by_path
                    .insert(item.path.clone(), self.items.len());
                self.items.push(item);
                self.embeddings.extend_from_slice(embedding);
            }
        }
        Ok(())
    }

    /// Keeps only the items `keep` accepts; returns how many were dropped.
    pub fn retain(&mut self, mut keep: impl FnMut(&Item) -> bool) -> usize {
        let before = self.len();
        let (mut items, mut embeddings) = (Vec::new(), Vec::new());
        for (row, item) in self.items.drain(..).enumerate() {
            if keep(&item) {
                embeddings
                    .extend_from_slice(&self.embeddings[row * self.dim..(row + 1) * self.dim]);
                items.push(item);
            }
        }
        self.items = items;
        self.embeddings = embeddings;
        self.rows_by_path = index_paths(&self.items);
        before - self.len()
    }

    /// The `k` rows most similar to `query` (a unit-norm embedding), best
    /// first; equal scores keep the collection's order.
    pub fn search(&self, query: &[f32], k: usize) -> Result<Vec<Hit>> {
        if query.len() != self.dim {
            return Err(Error::Input(format!(
                "a query of {} values for a collection of {}-value embeddings",
                query.len(),
                self.dim
            )));
        }
        let mut hits: Vec<Hit> = self
            .embeddings
            .chunks_exact(self.dim.max(1))
            .enumerate()
            .map(|(index, row)| Hit {
                index,
                score: dot(row, query),
            })
            .collect();
        let k = k.min(hits.len());
        if k < hits.len() {
            hits.select_nth_unstable_by(k, better);
            hits.truncate(k);
        }
        hits.sort_by(better);
        Ok(hits)
    }

    /// The three files of the collection's folder, as (name, bytes).
    pub fn to_files(&self) -> Result<[(&'static str, Vec<u8>); 3]> {
        let header = Header {
            format: FORMAT.into(),
            version: VERSION,
            model: self.model.clone(),
            embedding_dim: self.dim,
            images: self.len(),
        };
        let header = serde_json::to_vec_pretty(&header).expect("a header serializes");
        let bytes: Vec<u8> = self
            .embeddings
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let view = safetensors::tensor::TensorView::new(
            safetensors::Dtype::F32,
            vec![self.len(), self.dim],
            &bytes,
        )
        .map_err(|e| Error::Input(format!("cannot write the embeddings: {e}")))?;
        let embeddings = safetensors::serialize([(EMBEDDINGS_TENSOR, view)], None)
            .map_err(|e| Error::Input(format!("cannot write the embeddings: {e}")))?;
        let mut lines = Vec::new();
        for item in &self.items {
            serde_json::to_writer(&mut lines, item).expect("an item serializes");
            lines.push(b'\n');
        }
        Ok([
            (INDEX_FILE, header),
            (EMBEDDINGS_FILE, embeddings),
            (IMAGES_FILE, lines),
        ])
    }

    /// Reads the three files [`Self::to_files`] writes; `folder` names them in errors.
    pub fn from_files(
        index: &[u8],
        embeddings: &[u8],
        images: &[u8],
        folder: &str,
    ) -> Result<Self> {
        let invalid = |file: &str, message: String| Error::Config {
            file: format!("{folder}/{file}"),
            message,
        };
        let header: Header =
            serde_json::from_slice(index).map_err(|e| invalid(INDEX_FILE, e.to_string()))?;
        if header.format != FORMAT || header.version != VERSION {
            return Err(invalid(
                INDEX_FILE,
                format!(
                    "is {} version {}; webclip reads {FORMAT} version {VERSION}",
                    header.format, header.version
                ),
            ));
        }
        let tensors = safetensors::SafeTensors::deserialize(embeddings)
            .map_err(|e| invalid(EMBEDDINGS_FILE, e.to_string()))?;
        let view = tensors
            .tensor(EMBEDDINGS_TENSOR)
            .map_err(|_| invalid(EMBEDDINGS_FILE, "has no `embeddings` tensor".into()))?;
        let shape = [header.images, header.embedding_dim];
        if view.dtype() != safetensors::Dtype::F32 || view.shape() != shape {
            return Err(invalid(
                EMBEDDINGS_FILE,
                format!(
                    "holds {:?} {:?}; {INDEX_FILE} says F32 {shape:?}",
                    view.dtype(),
                    view.shape()
                ),
            ));
        }
        let values: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        if values.iter().any(|v| !v.is_finite()) {
            return Err(invalid(
                EMBEDDINGS_FILE,
                "holds a NaN or an infinity".into(),
            ));
        }
        let text = std::str::from_utf8(images)
            .map_err(|_| invalid(IMAGES_FILE, "is not UTF-8 text".into()))?;
        let items = text
            .lines()
            .filter(|line| !line.trim().is_empty())
            .enumerate()
            .map(|(i, line)| {
                serde_json::from_str::<Item>(line)
                    .map_err(|e| invalid(IMAGES_FILE, format!("line {}: {e}", i + 1)))
            })
            .collect::<Result<Vec<_>>>()?;
        if items.len() != header.images {
            return Err(invalid(
                IMAGES_FILE,
                format!(
                    "lists {} images; {INDEX_FILE} says {}",
                    items.len(),
                    header.images
                ),
            ));
        }
        let rows_by_path = index_paths(&items);
        if rows_by_path.len() != items.len() {
            return Err(invalid(IMAGES_FILE, "lists a path twice".into()));
        }
        Ok(Self {
            model: header.model,
            dim: header.embedding_dim,
            items,
            embeddings: values,
            rows_by_path,
        })
    }
}

/// The dot product in eight running sums, which the compiler turns into
/// vector instructions (one sum, added in order, it may not).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut sums = [0.0f32; 8];
    let (a_chunks, b_chunks) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a_chunks.zip(b_chunks) {
        for lane in 0..8 {
            sums[lane] += x[lane] * y[lane];
        }
    }
    sums.iter().sum::<f32>() + tail
}

/// Higher score first; equal scores in row order.
fn better(a: &Hit, b: &Hit) -> std::cmp::Ordering {
    b.score.total_cmp(&a.score).then(a.index.cmp(&b.index))
}

fn index_paths(items: &[Item]) -> HashMap<String, usize> {
    items
        .iter()
        .enumerate()
        .map(|(row, item)| (item.path.clone(), row))
        .collect()
}

/// One query from several embeddings, as rclip combines them: the sum of
/// each embedding times its weight (`1` to add, `-1` to take away), made
/// unit-norm again.
pub fn combine(terms: &[(f32, &[f32])]) -> Result<Vec<f32>> {
    let dim = terms.first().map_or(0, |(_, row)| row.len());
    if terms.is_empty() || terms.iter().any(|(_, row)| row.len() != dim) {
        return Err(Error::Input(
            "a query needs embeddings of one length".into(),
        ));
    }
    let mut sum = vec![0.0f32; dim];
    for (weight, row) in terms {
        for (s, v) in sum.iter_mut().zip(*row) {
            *s += weight * v;
        }
    }
    let norm = sum.iter().map(|v| v * v).sum::<f32>().sqrt();
    if !norm.is_finite() || norm <= 1e-6 {
        return Err(Error::Input(
            "the query's parts cancel each other out".into(),
        ));
    }
    Ok(sum.iter().map(|v| v / norm).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(path: &str, size: u64) -> Item {
        Item {
            path: path.into(),
            size,
            modified: 1_700_000_000_000,
        }
    }

    fn unit(v: [f32; 3]) -> Vec<f32> {
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / norm).collect()
    }

    fn sample() -> Collection {
        let mut c = Collection::new("model-a", 3);
        c.insert(item("a.png", 1), &unit([1.0, 0.0, 0.0])).unwrap();
        c.insert(item("b.png", 2), &unit([0.0, 1.0, 0.0])).unwrap();
        c.insert(item("c.png", 3), &unit([1.0, 1.0, 0.0])).unwrap();
        c
    }

    #[test]
    fn search_ranks_by_cosine() {
        let c = sample();
        let hits = c.search(&unit([1.0, 0.2, 0.0]), 2).unwrap();
        assert_eq!(hits.iter().map(|h| h.index).collect::<Vec<_>>(), [0, 2]);
        assert!((hits[0].score - unit([1.0, 0.2, 0.0])[0]).abs() < 1e-6);
        assert_eq!(c.search(&unit([0.0, 0.0, 1.0]), 10).unwrap().len(), 3);
        assert!(c.search(&[1.0], 1).is_err());
    }

    #[test]
    fn changed_files_are_seen_and_rows_stay_with_their_items() {
        let mut c = sample();
        assert!(c.has_unchanged(&item("b.png", 2)));
        assert!(!c.has_unchanged(&item("b.png", 5)));
        c.insert(item("b.png", 5), &unit([0.0, 0.0, 1.0])).unwrap();
        assert_eq!(c.len(), 3);
        assert_eq!(c.retain(|i| i.path != "a.png"), 1);
        assert_eq!(c.row_of("b.png"), Some(0));
        assert_eq!(c.embedding(0), unit([0.0, 0.0, 1.0]).as_slice());
    }

    #[test]
    fn files_round_trip_and_damage_is_named() {
        let c = sample();
        let [(_, index), (_, embeddings), (_, images)] = c.to_files().unwrap();
        let back = Collection::from_files(&index, &embeddings, &images, "idx").unwrap();
        assert_eq!(back, c);
        let short = String::from_utf8(images.clone()).unwrap();
        let short = short.lines().take(2).collect::<Vec<_>>().join("\n");
        let err = Collection::from_files(&index, &embeddings, short.as_bytes(), "idx").unwrap_err();
        assert!(err.to_string().contains("idx/images.jsonl"), "{err}");
    }

    #[test]
    fn queries_combine_and_cancel() {
        let (a, b) = (unit([1.0, 0.0, 0.0]), unit([0.0, 1.0, 0.0]));
        let q = combine(&[(1.0, &a), (1.0, &b)]).unwrap();
        assert!((q[0] - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);
        assert!(combine(&[(1.0, &a), (-1.0, &a)]).is_err());
        assert!(combine(&[]).is_err());
    }
}
