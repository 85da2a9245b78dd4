//! The browser API, through wasm-bindgen: what the page's Web Worker calls.
//! Results are flat `Float32Array`s of rows; errors reject with an `Error`
//! whose message says what to do.

use std::rc::Rc;

use js_sys::{Float32Array, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::device::browser_device;
use crate::model::{ClipModel, ModelFiles};
use crate::zeroshot::DEFAULT_TEMPLATE;

#[wasm_bindgen]
pub struct WebClip {
    model: Rc<ClipModel>,
    device: String,
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    fn console_error(message: &str);
}

/// A panic aborts the module (panic = "abort"): say why on the console first,
/// so the page can report it and start a fresh worker.
fn report_panics() {
    std::panic::set_hook(Box::new(|info| {
        console_error(&format!("webclip panicked: {info}"))
    }));
}

fn js_error(error: impl std::fmt::Display) -> JsValue {
    js_sys::Error::new(&error.to_string()).into()
}

fn flat(rows: Vec<Vec<f32>>) -> JsValue {
    let values: Vec<f32> = rows.into_iter().flatten().collect();
    Float32Array::from(values.as_slice()).into()
}

#[wasm_bindgen]
impl WebClip {
    /// Builds the model from the files of a model folder (Hugging Face
    /// layout) on `device`: "webgpu", "cpu" or "auto".
    pub async fn load(
        config: String,
        weights: Vec<u8>,
        tokenizer: Vec<u8>,
        tokenizer_config: Option<String>,
        preprocessor_config: Option<String>,
        device: String,
    ) -> Result<WebClip, JsValue> {
        report_panics();
        let (burn_device, device) = browser_device(&device).await.map_err(js_error)?;
        let files = ModelFiles {
            config,
            weights,
            tokenizer,
            tokenizer_config,
            preprocessor_config,
        };
        let model = ClipModel::from_files(&files, &burn_device).map_err(js_error)?;
        Ok(WebClip {
            model: Rc::new(model),
            device,
        })
    }

    /// "webgpu" or "cpu".
    #[wasm_bindgen(getter)]
    pub fn device(&self) -> String {
        self.device.clone()
    }

    /// The length of one embedding row.
    #[wasm_bindgen(getter, js_name = embedDim)]
    pub fn embed_dim(&self) -> usize {
        self.model.embed_dim()
    }

    /// Unit-norm text embeddings, one row per text (cached by text).
    #[wasm_bindgen(js_name = embedTexts)]
    pub fn embed_texts(&self, texts: Vec<String>) -> Promise {
        let model = Rc::clone(&self.model);
        future_to_promise(async move {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            model
                .embed_texts_async(&refs)
                .await
                .map(flat)
                .map_err(js_error)
        })
    }

    /// The unit-norm embedding of one encoded image file (PNG, JPEG, WebP, GIF).
    #[wasm_bindgen(js_name = embedImage)]
    pub fn embed_image(&self, bytes: Vec<u8>) -> Promise {
        let model = Rc::clone(&self.model);
        future_to_promise(async move {
            let pixels = model.pixel_values(&bytes, "file").map_err(js_error)?;
            model
                .embed_images_async(&[pixels])
                .await
                .map(flat)
                .map_err(js_error)
        })
    }

    /// Zero-shot probabilities of `labels` for one encoded image file.
    pub fn classify(
        &self,
        bytes: Vec<u8>,
        labels: Vec<String>,
        template: Option<String>,
    ) -> Promise {
        let model = Rc::clone(&self.model);
        future_to_promise(async move {
            let pixels = model.pixel_values(&bytes, "file").map_err(js_error)?;
            let template = template.unwrap_or_else(|| DEFAULT_TEMPLATE.to_string());
            model
                .classify_async(&[pixels], &labels, &template)
                .await
                .map(flat)
                .map_err(js_error)
        })
    }
}
