// Types of webclip.js, the page's API to CLIP (see that file for the details).

/** The Cache API bucket that keeps downloaded weights between visits. */
export declare const CACHE_NAME: string;

/** Reported while a model's files download (or come from the cache). */
export interface LoadProgress {
  /** The file's name in the model folder, e.g. "model.safetensors". */
  file: string;
  /** Bytes received so far. */
  loaded: number;
  /** The file's size in bytes, or 0 when the server did not say. */
  total: number;
  /** True when the file came from the Cache API instead of the network. */
  cached?: boolean;
}

export interface LoadOptions {
  /**
   * "auto" (the default) picks WebGPU when the browser has a hardware adapter,
   * else the CPU (a software fallback adapter is slower than the CPU path).
   */
  device?: "auto" | "webgpu" | "cpu";
  onProgress?: (progress: LoadProgress) => void;
}

/** An encoded image file (PNG, JPEG, WebP or GIF) or decoded pixels. */
export type ImageInput = Uint8Array | Blob | ImageData;

export interface Classification {
  labels: string[];
  /** One probability per label, in the order of `labels`; they sum to 1. */
  probs: Float32Array;
}

export declare class ClipModel {
  /** Use `ClipModel.load`. */
  private constructor(worker: Worker);

  /**
   * Loads a model in the Hugging Face layout (config.json, model.safetensors,
   * tokenizer.json, preprocessor_config.json) from a folder URL, a hub URL
   * `https://huggingface.co/{repo}/resolve/{revision}`, or local files.
   * Rejects with an Error a person can act on.
   */
  static load(source: string | FileList | Iterable<File>, options?: LoadOptions): Promise<ClipModel>;

  /** Deletes the downloaded weights kept for later visits; false when there were none. */
  static clearCache(): Promise<boolean>;

  /** What runs the model. */
  readonly device: "webgpu" | "cpu";
  /** Why "auto" chose the CPU, or null. */
  readonly deviceReason: string | null;
  /** Length of one embedding. */
  readonly embedDim: number;
  /** A short name for the exact model files: collections are kept per fingerprint, so models never mix. */
  readonly fingerprint: string;
  /**
   * What the person should know about how the model runs, one sentence each:
   * a weights file that could not be cached, GPU kernels that failed their
   * check on this adapter (Burn's own operations then run instead).
   */
  readonly notes: string[];
  /**
   * Called once when the GPU fails under the model (an error it reported, or
   * a lost device): later calls reject, and the model should be loaded again
   * with `device: "cpu"`.
   */
  onGpuFailure: ((error: Error) => void) | null;

  /** Rows of L2-normalized text embeddings (`texts.length × embedDim`), cached by text. */
  embedText(texts: Iterable<string>): Promise<Float32Array>;

  /** The L2-normalized embedding of one image (`embedDim` values). */
  embedImage(image: ImageInput): Promise<Float32Array>;

  /**
   * L2-normalized embeddings of many images (`images.length × embedDim`),
   * encoded in batches; rejects naming the first image that cannot be read.
   */
  embedImages(images: Iterable<ImageInput>, options?: { onProgress?: (progress: { done: number; total: number }) => void }): Promise<Float32Array>;

  /**
   * How many images this model has encoded since it loaded, and how many
   * times each of webclip's own GPU kernels has run in its worker (all zero on
   * the CPU, or where they failed their check at load; see `notes`).
   */
  stats(): Promise<{
    imagesEncoded: number;
    /** `linearF16`: the linear launches that read f16 weights (where the adapter has shader-f16). */
    kernelLaunches: { attention: number; layerNorm: number; linear: number; linearF16: number; softmax: number };
  }>;

  /**
   * Zero-shot classification: softmax over the labels written into
   * `template` (default "a photo of a {}"; `{}` is the label). With
   * `frameInk`, the image is a drawing and the model sees its ink framed at
   * three sizes, each turned slightly both ways (nine views, averaged), so a
   * drawing made small, in a corner or leaning counts like a large, upright,
   * centred one.
   */
  classify(
    image: ImageInput,
    labels: Iterable<string>,
    template?: string,
    options?: { frameInk?: boolean },
  ): Promise<Classification>;

  /** Stops the worker and frees the model; calls still running reject. */
  dispose(): void;
}

/** What `Collection.add` reports after each batch. */
export interface AddProgress {
  /** Files looked at so far, of `total`. */
  done: number;
  total: number;
  /** Files encoded, and files skipped because they were already there unchanged. */
  encoded: number;
  unchanged: number;
  /** Files that could not be read, with why; the others go on. */
  failures: { name: string; error: string }[];
  imagesPerSecond: number;
  /** Time left at the rate so far, or null before any image was encoded. */
  secondsLeft: number | null;
}

export interface AddResult {
  encoded: number;
  unchanged: number;
  failures: { name: string; error: string }[];
}

/** A search part; parts of a query are summed with their weights (default 1) into one unit-norm query. */
export type QueryPart =
  | { text: string; weight?: number }
  | { image: ImageInput; weight?: number }
  | { embedding: Float32Array; weight?: number }
  /** An image of the collection, by name ("more like this"). */
  | { name: string; weight?: number };

export type Query = string | ImageInput | Float32Array | QueryPart | QueryPart[];

export interface Hit {
  name: string;
  /** Cosine similarity of the unit-norm embeddings. */
  score: number;
}

export interface Labelled {
  name: string;
  /** The most likely label (or taught class). */
  label: string;
  /** One probability per label, in the order given; they sum to 1. */
  probs: Float32Array;
}

/**
 * A named set of images embedded by one model and kept in this browser (the
 * origin-private file system, in the command line's index format). The same
 * name with another model is another collection: models never mix.
 */
export declare class Collection {
  private constructor();

  /** Opens (or starts) the collection `name` of `model`, with what earlier visits added. */
  static open(name: string, model: ClipModel): Promise<Collection>;

  readonly name: string;
  /** How many images are indexed. */
  readonly size: number;
  /** Bytes of storage the collection takes, thumbnails included. */
  readonly bytes: number;
  /** The classes last taught by example, `{ class: [image names] }`, or null. */
  readonly examples: Record<string, string[]> | null;

  /**
   * Adds images (a File is named by its path in a picked folder, else its
   * name); files already here with the same name, size and date are not
   * encoded again. An aborted `signal` stops between batches (the promise
   * rejects with an AbortError) and keeps what was added.
   */
  add(
    files: Iterable<File | { name: string; file: Blob }>,
    options?: { onProgress?: (progress: AddProgress) => void; signal?: AbortSignal },
  ): Promise<AddResult>;

  /** The `k` (default 10) images most like the query, best first. */
  search(query: Query, options?: { k?: number }): Promise<Hit[]>;

  /** Zero-shot labels for every image, `template` defaulting to "a photo of a {}". */
  label(labels: Iterable<string>, options?: { template?: string }): Promise<Labelled[]>;

  /**
   * Teaches classes from examples, `{ class: [image names] }` (a linear probe
   * on the embeddings), labels every image with them and keeps them.
   * `accuracy`: leave-one-out accuracy on the examples, null with fewer than two.
   */
  teach(examples: Record<string, string[]>): Promise<{ accuracy: number | null; results: Labelled[] }>;

  /** The names of the images, in the order they were added. */
  names(): Promise<string[]>;

  /** A small JPEG of an indexed image, or null when none could be made. */
  thumbnail(name: string): Promise<Blob | null>;

  /** Removes the named images; resolves to how many were there. */
  remove(names: Iterable<string>): Promise<number>;

  /** Removes every image, thumbnail and taught class of the collection. */
  clear(): Promise<void>;
}
