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

/** How many images go to the worker in one call: big enough to batch, small enough to report progress often. */
const IMAGE_BATCH = 8;

/** Each model's way to call its worker, for the collections made with it. */
const callers = new WeakMap();

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
  /** A short name for the exact model files (its collections are kept under it). */
  fingerprint = "";
  /** What the person should know about how the model runs, one sentence each. */
  notes = [];
  /** Called once when the GPU fails under the model; the CPU is the way on. */
  onGpuFailure = null;

  constructor(worker) {
    this.#worker = worker;
    callers.set(this, (op, args, onProgress) => this.#call(op, args, onProgress));
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
      model.fingerprint = info.fingerprint;
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
   * L2-normalized embeddings of many images, `images.length × embedDim` rows in
   * one Float32Array, encoded in batches; `onProgress({ done, total })` after each.
   * Rejects naming the first image that cannot be read.
   */
  async embedImages(images, { onProgress } = {}) {
    const list = imageList(images);
    const rows = new Float32Array(list.length * this.embedDim);
    for (let first = 0; first < list.length; first += IMAGE_BATCH) {
      const batch = await Promise.all(list.slice(first, first + IMAGE_BATCH).map(imageBytes));
      rows.set(await this.#call("embedImages", { images: batch, first }), first * this.embedDim);
      onProgress?.({ done: first + batch.length, total: list.length });
    }
    return rows;
  }

  /** How many images this model has encoded since it loaded: `{ imagesEncoded }`. */
  async stats() {
    return this.#call("stats", {});
  }

  /**
   * Zero-shot classification: `{ labels, probs }`, probs in the order of labels.
   * Without a template the module's own default applies ("a photo of a {}").
   * `{ frameInk: true }`: the image is a drawing, judged by views framing its ink.
   */
  async classify(image, labels, template, { frameInk = false } = {}) {
    labels = stringList(labels, "labels");
    if (template !== undefined && typeof template !== "string") {
      throw new TypeError(`template must be a string such as "a photo of a {}", not ${typeName(template)}`);
    }
    const probs = await this.#call("classify", { bytes: await imageBytes(image), labels, template, frameInk: Boolean(frameInk) });
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
 * A named set of images embedded by one model and kept in this browser (the
 * origin-private file system): searched by words, by an image or both,
 * labelled zero-shot or by classes taught from a few examples. A collection
 * belongs to the model that made it: the same name with another model is
 * another collection.
 */
export class Collection {
  #call;
  #name;
  /** How many images are in the collection. */
  size = 0;
  /** Bytes of storage the collection takes (index and thumbnails). */
  bytes = 0;
  /** The classes last taught by example, `{ class: [image names] }`, or null. */
  examples = null;

  constructor(call, name) {
    this.#call = (op, args, onProgress) => call(`collection.${op}`, { name, ...args }, onProgress);
    this.#name = name;
  }

  get name() {
    return this.#name;
  }

  /** Opens (or starts) the collection `name` of `model`; what an earlier visit added is there. */
  static async open(name, model) {
    if (typeof name !== "string" || !name.trim()) throw new TypeError("a collection needs a name (a non-empty string)");
    const call = callers.get(model);
    if (!call) throw new TypeError("Collection.open needs a ClipModel from ClipModel.load");
    const collection = new Collection(call, name);
    collection.#update(await collection.#call("open", {}));
    return collection;
  }

  #update({ size, bytes, examples }) {
    this.size = size;
    this.bytes = bytes;
    this.examples = examples ?? null;
  }

  /**
   * Adds images: File objects (named by their path in a picked folder, else
   * their name) or `{ name, file }`. Files already here with the same name,
   * size and date are not encoded again. `onProgress({ done, total, encoded,
   * unchanged, failures, imagesPerSecond, secondsLeft })` follows each batch;
   * `signal` (an AbortSignal) stops between batches, keeping what was added.
   * Resolves to `{ encoded, unchanged, failures: [{ name, error }] }`.
   */
  async add(files, { onProgress, signal } = {}) {
    const list = [...(files ?? [])].map((entry) => {
      if (entry instanceof Blob && typeof entry.name === "string") return { file: entry, name: entry.webkitRelativePath || entry.name };
      if (entry?.file instanceof Blob && typeof entry.name === "string" && entry.name) return entry;
      throw new TypeError("add takes File objects, or { name, file } with a Blob");
    });
    const total = { encoded: 0, unchanged: 0, failures: [] };
    const start = performance.now();
    let saved = start;
    try {
      for (let done = 0; done < list.length; ) {
        signal?.throwIfAborted();
        const batch = list.slice(done, done + IMAGE_BATCH);
        const { encoded, unchanged, failures, size } = await this.#call("add", { files: batch });
        done += batch.length;
        total.encoded += encoded;
        total.unchanged += unchanged;
        total.failures.push(...failures);
        this.size = size;
        const seconds = (performance.now() - start) / 1000;
        const imagesPerSecond = (total.encoded + total.failures.length) / seconds;
        const secondsLeft = imagesPerSecond > 0 ? (list.length - done) / imagesPerSecond : null;
        onProgress?.({ done, total: list.length, ...total, imagesPerSecond, secondsLeft });
        // Kept every few seconds: a closed tab loses little.
        if (performance.now() - saved > 10_000) {
          this.#update(await this.#call("save", {}));
          saved = performance.now();
        }
      }
    } finally {
      this.#update(await this.#call("save", {}));
    }
    return total;
  }

  /**
   * The `k` images most like the query, best first: `[{ name, score }]`,
   * score the cosine similarity. The query is words, an image (ImageInput),
   * an embedding (Float32Array), `{ name }` of an image here ("more like
   * this"), or an array of such parts with weights `{ text | image |
   * embedding | name, weight }`, summed ("a dog" + photo − "indoors").
   */
  async search(query, { k = 10 } = {}) {
    const parts = Array.isArray(query) ? query : [query];
    const prepared = await Promise.all(parts.map(queryPart));
    return this.#call("search", { parts: prepared, k });
  }

  /**
   * Zero-shot labels for every image: `[{ name, label, probs }]`, probs in
   * the order of `labels`, written into `template` (default "a photo of a {}").
   */
  async label(labels, { template } = {}) {
    labels = stringList(labels, "labels");
    const { names, probs } = await this.#call("label", { labels, template });
    return rowsOf(names, labels, probs);
  }

  /**
   * Teaches classes from a few examples each, `{ class: [image names] }`: a
   * linear probe on the embeddings labels every image. Resolves to `{
   * accuracy, results: [{ name, label, probs }] }`, accuracy the leave-one-out
   * accuracy on the examples (null with fewer than two). The classes are kept
   * (`examples`) for the next visit.
   */
  async teach(examples) {
    if (examples === null || typeof examples !== "object") throw new TypeError("teach takes { class: [image names] }");
    for (const [cls, names] of Object.entries(examples)) stringList(names, `examples["${cls}"]`);
    const { names, classes, probs, accuracy } = await this.#call("teach", { examples });
    this.examples = examples;
    return { accuracy, results: rowsOf(names, classes, probs) };
  }

  /** The names of the images here, in the order they were added. */
  async names() {
    return this.#call("names", {});
  }

  /** Removes the named images; resolves to how many were here. */
  async remove(names) {
    const removed = await this.#call("remove", { images: stringList(names, "names") });
    this.size -= removed;
    return removed;
  }

  /** Removes every image, its thumbnail and the taught classes. */
  async clear() {
    this.#update(await this.#call("clear", {}));
  }

  /** A small JPEG of an image here (a Blob), or null. */
  async thumbnail(name) {
    return this.#call("thumbnail", { image: name });
  }
}

/** A search part as the worker takes it: images as the bytes of a file. */
async function queryPart(part) {
  if (typeof part === "string") return { text: part };
  if (part instanceof Float32Array) return { embedding: part };
  if (isImage(part)) return { image: await imageBytes(part) };
  if (part && typeof part === "object") {
    const { text, image, embedding, name, weight = 1 } = part;
    if (typeof weight !== "number" || !Number.isFinite(weight)) throw new TypeError("a query part's weight must be a finite number");
    if (image !== undefined) return { image: await imageBytes(image), weight };
    if (text !== undefined || embedding !== undefined || name !== undefined) return { text, embedding, name, weight };
  }
  throw new TypeError("a query is words, an image, a Float32Array, { name } or an array of parts");
}

/** `[{ name, label, probs }]` from flat rows of probabilities, one row per name. */
function rowsOf(names, labels, probs) {
  const width = labels.length;
  return names.map((name, i) => {
    const row = probs.slice(i * width, (i + 1) * width);
    let best = 0;
    for (let j = 1; j < width; j++) if (row[j] > row[best]) best = j;
    return { name, label: labels[best], probs: row };
  });
}

const isImage = (value) => value instanceof Uint8Array || value instanceof Blob || (typeof ImageData !== "undefined" && value instanceof ImageData);

function imageList(images) {
  if (images == null || typeof images[Symbol.iterator] !== "function" || isImage(images)) {
    throw new TypeError("images must be an array of images (Uint8Array, Blob, File or ImageData)");
  }
  return [...images];
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
