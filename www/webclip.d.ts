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
   * Zero-shot classification: softmax over the labels written into
   * `template` (default "a photo of a {}"; `{}` is the label).
   */
  classify(image: ImageInput, labels: Iterable<string>, template?: string): Promise<Classification>;

  /** Stops the worker and frees the model; calls still running reject. */
  dispose(): void;
}
