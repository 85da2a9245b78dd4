//! The browser side of a [`Collection`]: the worker keeps one per open
//! photo collection, reads and writes its three files (the command line's
//! format) in the browser's storage, and searches, labels and teaches
//! classes with it here, beside the model, so no embedding is copied out
//! more than a query needs.

use std::rc::Rc;

use js_sys::{Array, Float32Array, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use super::{WebClip, flat, js_error};
use crate::collection::{Collection, Item, combine};
use crate::error::Error;
use crate::pipeline::split_rows;
use crate::probe::{LinearProbe, leave_one_out_accuracy};
use crate::zeroshot::DEFAULT_TEMPLATE;

#[wasm_bindgen]
pub struct WebCollection {
    inner: Collection,
}

fn set(object: &Object, key: &str, value: impl Into<JsValue>) {
    let _ = Reflect::set(object, &key.into(), &value.into());
}

#[wasm_bindgen]
impl WebCollection {
    /// An empty collection for the model with this fingerprint.
    #[wasm_bindgen(constructor)]
    pub fn new(model: &str, dim: usize) -> WebCollection {
        WebCollection {
            inner: Collection::new(model, dim),
        }
    }

    /// Reads the three files `toFiles` wrote; `name` says which collection
    /// in errors.
    #[wasm_bindgen(js_name = fromFiles)]
    pub fn from_files(
        index: &[u8],
        embeddings: &[u8],
        images: &[u8],
        name: &str,
    ) -> Result<WebCollection, JsValue> {
        Collection::from_files(index, embeddings, images, name)
            .map(|inner| WebCollection { inner })
            .map_err(js_error)
    }

    /// `{ "index.json", "embeddings.safetensors", "images.jsonl" }` as `Uint8Array`s.
    #[wasm_bindgen(js_name = toFiles)]
    pub fn to_files(&self) -> Result<Object, JsValue> {
        let files = Object::new();
        for (name, bytes) in self.inner.to_files().map_err(js_error)? {
            set(&files, name, Uint8Array::from(bytes.as_slice()));
        }
        Ok(files)
    }

    /// The fingerprint of the model whose embeddings these are.
    #[wasm_bindgen(getter)]
    pub fn model(&self) -> String {
        self.inner.model().to_string()
    }

    #[wasm_bindgen(getter)]
    pub fn size(&self) -> usize {
        self.inner.len()
    }

    /// The names of the images, in the order of the rows.
    pub fn names(&self) -> Vec<String> {
        self.inner.items().iter().map(|i| i.path.clone()).collect()
    }

    /// Whether this file is here as it is (same name, size and time).
    #[wasm_bindgen(js_name = hasUnchanged)]
    pub fn has_unchanged(&self, name: String, size: f64, modified: f64) -> bool {
        self.inner.has_unchanged(&item(name, size, modified))
    }

    /// Adds a file's embedding, or replaces the one of the same name.
    pub fn insert(
        &mut self,
        name: String,
        size: f64,
        modified: f64,
        embedding: &[f32],
    ) -> Result<(), JsValue> {
        self.inner
            .insert(item(name, size, modified), embedding)
            .map_err(js_error)
    }

    /// Drops the named images; returns how many were here.
    pub fn remove(&mut self, names: Vec<String>) -> usize {
        let names: std::collections::HashSet<String> = names.into_iter().collect();
        self.inner.retain(|item| !names.contains(&item.path))
    }

    /// The embedding of a named image, if it is here.
    pub fn embedding(&self, name: &str) -> Option<Float32Array> {
        let row = self.inner.row_of(name)?;
        Some(Float32Array::from(self.inner.embedding(row)))
    }

    /// The `k` best matches of a unit-norm query: `[{ name, score }]`, best first.
    pub fn search(&self, query: &[f32], k: usize) -> Result<Array, JsValue> {
        let hits = self.inner.search(query, k).map_err(js_error)?;
        Ok(hits
            .into_iter()
            .map(|hit| {
                let entry = Object::new();
                set(&entry, "name", self.inner.items()[hit.index].path.as_str());
                set(&entry, "score", hit.score);
                JsValue::from(entry)
            })
            .collect())
    }

    /// One unit-norm query from rows of `dim` values, each times its weight.
    pub fn combine(rows: &[f32], weights: &[f32], dim: usize) -> Result<Float32Array, JsValue> {
        let rows = split_rows(rows.to_vec(), dim.max(1));
        if rows.len() != weights.len() {
            return Err(js_error("a query needs one weight per part"));
        }
        let terms: Vec<(f32, &[f32])> = weights
            .iter()
            .zip(&rows)
            .map(|(&w, r)| (w, r.as_slice()))
            .collect();
        combine(&terms)
            .map(|query| Float32Array::from(query.as_slice()))
            .map_err(js_error)
    }

    /// Teaches classes by example: `examples` (names of images here) are of
    /// class `labels[i]` of `classes`. A linear probe fitted to them labels
    /// every image: `{ probs: Float32Array (size × classes), accuracy }`,
    /// `accuracy` the leave-one-out accuracy on the examples (null with
    /// fewer than two).
    pub fn teach(
        &self,
        examples: Vec<String>,
        labels: Vec<u32>,
        classes: usize,
    ) -> Result<Object, JsValue> {
        if classes < 2 {
            return Err(js_error("teach at least two classes"));
        }
        let labels: Vec<usize> = labels.into_iter().map(|l| l as usize).collect();
        if let Some(class) = (0..classes).find(|c| !labels.contains(c)) {
            return Err(js_error(format!("class {} has no examples", class + 1)));
        }
        let rows = examples
            .iter()
            .map(|name| match self.inner.row_of(name) {
                Some(row) => Ok(self.inner.embedding(row).to_vec()),
                None => Err(js_error(format!("{name} is not in the collection"))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let probe = LinearProbe::fit(&rows, &labels, classes).map_err(js_error)?;
        let probs: Vec<Vec<f32>> = (0..self.inner.len())
            .map(|row| probe.probabilities(self.inner.embedding(row)))
            .collect();
        let accuracy = match rows.len() {
            0 | 1 => JsValue::NULL,
            _ => leave_one_out_accuracy(&rows, &labels, classes)
                .map_err(js_error)?
                .into(),
        };
        let result = Object::new();
        set(&result, "probs", flat(probs));
        set(&result, "accuracy", accuracy);
        Ok(result)
    }
}

fn item(path: String, size: f64, modified: f64) -> Item {
    Item {
        path,
        size: size as u64,
        modified: modified as i64,
    }
}

#[wasm_bindgen]
impl WebClip {
    /// Unit-norm embeddings of encoded image files, in one batch: `{ rows,
    /// failures }`, `rows` a Float32Array of the images that decoded (in
    /// order), `failures` `[{ index, error }]` for the others.
    #[wasm_bindgen(js_name = embedImages)]
    pub fn embed_images(&self, images: Array) -> Promise {
        let model = Rc::clone(&self.model);
        let mut pixels = Vec::new();
        let failures = Array::new();
        for (index, image) in images.iter().enumerate() {
            let decoded = image
                .dyn_into::<Uint8Array>()
                .map_err(|_| Error::Input("an image must be a Uint8Array of its file".into()))
                .and_then(|bytes| model.pixel_values(&bytes.to_vec(), "file"));
            match decoded {
                Ok(values) => pixels.push(values),
                Err(error) => {
                    let failure = Object::new();
                    set(&failure, "index", index as u32);
                    set(&failure, "error", error.to_string());
                    failures.push(&failure);
                }
            }
        }
        self.images_encoded
            .set(self.images_encoded.get() + pixels.len() as f64);
        future_to_promise(async move {
            let rows = match pixels.is_empty() {
                true => Vec::new(),
                false => model.embed_images_async(&pixels).await.map_err(js_error)?,
            };
            let result = Object::new();
            set(&result, "rows", flat(rows));
            set(&result, "failures", failures);
            Ok(result.into())
        })
    }

    /// Zero-shot probabilities of `labels` (written into `template`) for
    /// every image of `collection`: rows of `labels.length`, in its order.
    #[wasm_bindgen(js_name = labelCollection)]
    pub fn label_collection(
        &self,
        collection: &WebCollection,
        labels: Vec<String>,
        template: Option<String>,
    ) -> Promise {
        let model = Rc::clone(&self.model);
        let rows: Vec<Vec<f32>> = (0..collection.inner.len())
            .map(|row| collection.inner.embedding(row).to_vec())
            .collect();
        future_to_promise(async move {
            let template = template.unwrap_or_else(|| DEFAULT_TEMPLATE.to_string());
            model
                .label_embeddings_async(&rows, &labels, &template)
                .await
                .map(flat)
                .map_err(js_error)
        })
    }
}
