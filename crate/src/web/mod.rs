//! The browser API, through wasm-bindgen: what the page's Web Worker calls.
//! Results are flat `Float32Array`s of rows; errors reject with an `Error`
//! whose message says what to do.

mod collection;

use std::borrow::Cow;
use std::cell::Cell;
use std::ops::Range;
use std::rc::Rc;

use js_sys::{Array, Float32Array, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::device::browser_device;
use crate::error::Error;
use crate::model::safetensors::WeightBytes;
use crate::pipeline::{
    CONFIG_FILE, ClipPipeline, MODEL_FILES, ModelFiles, PREPROCESSOR_FILE, TOKENIZER_CONFIG_FILE,
    TOKENIZER_FILE, WEIGHTS_FILE,
};
use crate::zeroshot::DEFAULT_TEMPLATE;

#[wasm_bindgen]
pub struct WebClip {
    model: Rc<ClipPipeline>,
    device: &'static str,
    device_reason: Option<String>,
    /// How many images went through the image encoder (tests count them).
    /// Shared with the calls in flight, which count an image once decoded.
    images_encoded: Rc<Cell<f64>>,
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    fn console_error(message: &str);
}

unsafe extern "C" {
    /// The module's static constructors (Burn's compiler registers its
    /// operations with them), made by the linker.
    fn __wasm_call_ctors();
}

/// Runs once, when the module starts. The constructors run here, once: a
/// module that never calls them itself is taken by the linker for one called
/// once, and then every exported function runs them all again first (0.2 to
/// 0.4 ms a call, measured: a search returning 10,000 rows took 25 s). A panic aborts the
/// module (panic = "abort"): the hook says why on the console first, so the
/// page can report it and start a fresh worker.
#[wasm_bindgen(start)]
fn start() {
    // SAFETY: called once, before any other call into the module.
    unsafe { __wasm_call_ctors() };
    std::panic::set_hook(Box::new(|info| {
        console_error(&format!("webclip panicked: {info}"))
    }));
}

/// The files of a model folder from an object keyed by file name: text
/// files as strings, the others as `Uint8Array`s.
/// Bytes in a JavaScript `Uint8Array`, outside the module's memory.
struct JsBytes(Uint8Array);

impl WeightBytes for JsBytes {
    fn byte_len(&self) -> usize {
        self.0.length() as usize
    }

    fn read(&self, range: Range<usize>) -> Cow<'_, [u8]> {
        Cow::Owned(
            self.0
                .subarray(range.start as u32, range.end as u32)
                .to_vec(),
        )
    }
}

fn model_files(files: &Object) -> Result<ModelFiles, Error> {
    let get = |name: &str| {
        Reflect::get(files, &name.into())
            .ok()
            .filter(|value| !value.is_undefined() && !value.is_null())
    };
    let wrong = |name: &str, kind: &str| Error::Input(format!("{name} must be {kind}"));
    let text = |name: &str| {
        get(name)
            .map(|value| value.as_string().ok_or_else(|| wrong(name, "a string")))
            .transpose()
    };
    let array = |name: &str| {
        get(name)
            .map(|value| {
                value
                    .dyn_into::<Uint8Array>()
                    .map_err(|_| wrong(name, "a Uint8Array"))
            })
            .transpose()
    };
    let bytes = |name: &str| array(name).map(|array| array.map(|array| array.to_vec()));
    let missing = |name: &str| Error::Input(format!("{name} is missing"));
    Ok(ModelFiles {
        config: text(CONFIG_FILE)?.ok_or_else(|| missing(CONFIG_FILE))?,
        // Left where JavaScript holds it: read a tensor at a time.
        weights: Box::new(JsBytes(
            array(WEIGHTS_FILE)?.ok_or_else(|| missing(WEIGHTS_FILE))?,
        )),
        tokenizer: bytes(TOKENIZER_FILE)?.ok_or_else(|| missing(TOKENIZER_FILE))?,
        tokenizer_config: text(TOKENIZER_CONFIG_FILE)?,
        preprocessor_config: text(PREPROCESSOR_FILE)?,
    })
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
    /// The files of a model folder, in the order `load` reads them:
    /// `[{name, text, optional}]`.
    #[wasm_bindgen(js_name = modelFiles)]
    pub fn model_files() -> Array {
        MODEL_FILES
            .iter()
            .map(|file| {
                let entry = Object::new();
                let set = |key: &str, value: JsValue| Reflect::set(&entry, &key.into(), &value);
                let _ = set("name", file.name.into());
                let _ = set("text", file.text.into());
                let _ = set("optional", file.optional.into());
                JsValue::from(entry)
            })
            .collect()
    }

    /// Builds the model from the files of a model folder (Hugging Face
    /// layout), an object keyed by file name as [`WebClip::model_files`]
    /// lists them (text files as strings, the others as `Uint8Array`s), on
    /// `device`: "webgpu", "cpu" or "auto".
    pub async fn load(files: Object, device: String) -> Result<WebClip, JsValue> {
        let files = model_files(&files).map_err(js_error)?;
        let device = browser_device(&device).await.map_err(js_error)?;
        let mut model = ClipPipeline::from_files(&files, &device.device).map_err(js_error)?;
        model.check_kernels().await;
        // The CPU has nothing to compile.
        if device.name == "webgpu" {
            model.warm_up().await.map_err(js_error)?;
        }
        Ok(WebClip {
            model: Rc::new(model),
            device: device.name,
            device_reason: device.reason,
            images_encoded: Rc::new(Cell::new(0.0)),
        })
    }

    /// "webgpu" or "cpu".
    #[wasm_bindgen(getter)]
    pub fn device(&self) -> String {
        self.device.to_string()
    }

    /// Why "auto" chose the CPU, when it did.
    #[wasm_bindgen(getter, js_name = deviceReason)]
    pub fn device_reason(&self) -> Option<String> {
        self.device_reason.clone()
    }

    /// What the person should know about how the model runs (one sentence
    /// each): for example that our GPU kernels failed their check here.
    #[wasm_bindgen(getter)]
    pub fn notes(&self) -> Vec<String> {
        self.model.notes().to_vec()
    }

    /// The length of a whole `model.safetensors` from its first bytes (the
    /// 8-byte length and the header), so a download of another length is
    /// never used or cached.
    #[wasm_bindgen(js_name = safetensorsLength)]
    pub fn safetensors_length(head: &[u8]) -> Result<f64, JsValue> {
        crate::model::safetensors::safetensors_len(head)
            .map(|len| len as f64)
            .map_err(|e| js_error(format!("{WEIGHTS_FILE} {e}")))
    }

    /// A short name for the exact model files: a collection of embeddings
    /// records it and never mixes models.
    #[wasm_bindgen(getter)]
    pub fn fingerprint(&self) -> String {
        self.model.fingerprint().to_string()
    }

    /// How many images the image encoder has embedded since the load.
    #[wasm_bindgen(getter, js_name = imagesEncoded)]
    pub fn images_encoded(&self) -> f64 {
        self.images_encoded.get()
    }

    /// How many times each of our GPU kernels has run in this module: zeros
    /// on the CPU, or where the kernels failed their check at load.
    #[wasm_bindgen(getter, js_name = kernelLaunches)]
    pub fn kernel_launches(&self) -> Object {
        let launches = crate::kernels::launches();
        let counts = Object::new();
        for (name, count) in [
            ("attention", launches.attention),
            ("layerNorm", launches.layer_norm),
            ("linear", launches.linear),
            ("linearF16", launches.linear_f16),
            ("softmax", launches.softmax),
        ] {
            let _ = Reflect::set(&counts, &name.into(), &(count as f64).into());
        }
        counts
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
        let encoded = Rc::clone(&self.images_encoded);
        future_to_promise(async move {
            let pixels = model.pixel_values(&bytes, "file").map_err(js_error)?;
            encoded.set(encoded.get() + 1.0);
            model
                .embed_images_async(&[pixels])
                .await
                .map(flat)
                .map_err(js_error)
        })
    }

    /// Zero-shot probabilities of `labels` for one encoded image file; with
    /// `frame_ink`, of the drawing's ink framed rather than the whole image
    /// ([`ClipPipeline::embed_drawings_async`]).
    pub fn classify(
        &self,
        bytes: Vec<u8>,
        labels: Vec<String>,
        template: Option<String>,
        frame_ink: Option<bool>,
    ) -> Promise {
        let model = Rc::clone(&self.model);
        let encoded = Rc::clone(&self.images_encoded);
        future_to_promise(async move {
            let template = template.unwrap_or_else(|| DEFAULT_TEMPLATE.to_string());
            let probs = if frame_ink == Some(true) {
                let drawing = crate::preprocess::decode_image(&bytes, "file").map_err(js_error)?;
                encoded.set(encoded.get() + 1.0);
                let embedding = model.embed_drawings_async(&[drawing]).await;
                (model.label_embeddings_async(&embedding.map_err(js_error)?, &labels, &template))
                    .await
            } else {
                let pixels = model.pixel_values(&bytes, "file").map_err(js_error)?;
                encoded.set(encoded.get() + 1.0);
                model.classify_async(&[pixels], &labels, &template).await
            };
            probs.map(flat).map_err(js_error)
        })
    }
}
