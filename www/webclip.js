// webclip's JavaScript API: CLIP in the page, on WebGPU or the CPU. The model
// lives in a Web Worker, so the page never blocks; nothing leaves the browser
// except the download of the weights themselves.
//
//   const model = await ClipModel.load("models/clip", { device: "auto", onProgress });
//   const { labels, probs } = await model.classify(file, ["cat", "dog"]);

/** How the module words an error of the GPU itself (not of the input). */
const GPU_FAILURE = /^device: the GPU /;

/** The Cache API bucket that keeps downloaded weights between visits. */
export const CACHE_NAME = "webclip-models";

export class ClipModel {
  #worker;
  #calls = new Map();
  #nextId = 0;
  /** Set when the worker died (an abort inside the model): every later call fails with it. */
  #failure = null;

  /** "webgpu" or "cpu": what runs the model. */
  device = "";
  /** Why "auto" chose the CPU (no WebGPU adapter, or only a slow software one); null otherwise. */
  deviceReason = null;
  /** Length of one embedding. */
  embedDim = 0;
  /** What the person should know about how the model runs, one sentence each. */
  notes = [];
  /** Called once when the GPU fails under the model; the CPU is the way on. */
  onGpuFailure = null;

  constructor(worker) {
    this.#worker = worker;
    worker.onmessage = ({ data }) => {
      const call = this.#calls.get(data.id);
      if (!call) return;
      if (data.progress) {
        call.onProgress?.(data.progress);
        return;
      }
      this.#calls.delete(data.id);
      if (!data.error) return call.resolve(data.result);
      const error = new Error(data.error);
      if (this.device === "webgpu" && GPU_FAILURE.test(data.error)) {
        this.#gpuFailed(error);
      }
      call.reject(error);
    };
    worker.onerror = (event) => {
      event.preventDefault();
      this.#stop(new Error(`the model stopped (${event.message || "its worker failed"}); load it again`));
    };
  }

  /** A GPU that failed once is not trusted again: the owner hears of it once. */
  #gpuFailed(error) {
    if (this.#failure) return;
    this.#failure = error;
    queueMicrotask(() => this.onGpuFailure?.(error));
  }

  /** Ends the worker: pending and later calls reject with `failure`. */
  #stop(failure) {
    this.#failure ??= failure;
    for (const call of this.#calls.values()) call.reject(this.#failure);
    this.#calls.clear();
    this.#worker.terminate();
  }

  #call(op, args, onProgress) {
    if (this.#failure) return Promise.reject(this.#failure);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#calls.set(id, { resolve, reject, onProgress });
      this.#worker.postMessage({ id, op, args });
    });
  }

  /**
   * Loads a model in the Hugging Face layout (config.json, model.safetensors,
   * tokenizer.json, preprocessor_config.json) from a folder URL, a hub URL
   * `https://huggingface.co/{repo}/resolve/{revision}`, or local files (a FileList).
   */
  static async load(source, { device = "auto", onProgress } = {}) {
    const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
    const model = new ClipModel(worker);
    const from = typeof source === "string" ? { url: new URL(source, document.baseURI).href } : { files: [...source] };
    try {
      const info = await model.#call("load", { from, device }, onProgress);
      model.device = info.device;
      model.deviceReason = info.deviceReason ?? null;
      model.embedDim = info.embedDim;
      model.notes = info.notes ?? [];
      return model;
    } catch (error) {
      worker.terminate();
      throw error;
    }
  }

  /** Rows of L2-normalized text embeddings, one per text, in one Float32Array. */
  async embedText(texts) {
    return this.#call("embedTexts", { texts: stringList(texts, "texts") });
  }

  /** The L2-normalized embedding of an image (Uint8Array of a file, Blob, or ImageData). */
  async embedImage(image) {
    return this.#call("embedImage", { bytes: await imageBytes(image) });
  }

  /**
   * Zero-shot classification: `{ labels, probs }`, probs in the order of labels.
   * Without a template the module's own default applies ("a photo of a {}").
   */
  async classify(image, labels, template) {
    labels = stringList(labels, "labels");
    if (template !== undefined && typeof template !== "string") {
      throw new TypeError(`template must be a string such as "a photo of a {}", not ${typeName(template)}`);
    }
    const probs = await this.#call("classify", { bytes: await imageBytes(image), labels, template });
    return { labels, probs };
  }

  /** Stops the worker and frees the model; calls still running reject. */
  dispose() {
    this.#stop(new Error("the model was unloaded"));
  }

  /** Deletes the downloaded weights kept for later visits. */
  static async clearCache() {
    return (await globalThis.caches?.delete(CACHE_NAME)) ?? false;
  }
}

/**
 * `value` as an array of strings, or a TypeError naming the parameter: a lone
 * string would otherwise be taken letter by letter.
 */
function stringList(value, name) {
  if (typeof value === "string") {
    throw new TypeError(`${name} must be an array of strings; wrap a single one in [ ]`);
  }
  if (value == null || typeof value[Symbol.iterator] !== "function") {
    throw new TypeError(`${name} must be an array of strings, not ${typeName(value)}`);
  }
  const list = [...value];
  list.forEach((item, i) => {
    if (typeof item !== "string") throw new TypeError(`${name}[${i}] must be a string, not ${typeName(item)}`);
  });
  return list;
}

function typeName(value) {
  return value === null ? "null" : Array.isArray(value) ? "an array" : `a ${typeof value}`;
}

/** The bytes of an encoded image file. ImageData is encoded as PNG first. */
async function imageBytes(image) {
  if (image instanceof Uint8Array) return image;
  if (image instanceof Blob) return new Uint8Array(await image.arrayBuffer());
  if (typeof ImageData !== "undefined" && image instanceof ImageData) {
    const canvas = new OffscreenCanvas(image.width, image.height);
    canvas.getContext("2d").putImageData(image, 0, 0);
    const blob = await canvas.convertToBlob({ type: "image/png" });
    return new Uint8Array(await blob.arrayBuffer());
  }
  throw new Error("an image must be a Uint8Array of an image file, a Blob or File, or ImageData");
}
