// The Web Worker that owns the model: downloads (or reads) its files, runs the
// wasm module, answers the page's calls. See webclip.js for the API.

import init, { WebClip } from "./pkg/webclip_wasm.js";
import { CACHE_NAME } from "./webclip.js";
import { collectionCall } from "./collection-store.js";

const ready = init({ module_or_path: new URL("./pkg/webclip_wasm_bg.wasm", import.meta.url) });
let model = null;
/** The files of a model folder, [{ name, text, optional }], as the module reads them. */
const modelFiles = ready.then(() => WebClip.modelFiles());

onmessage = async ({ data: { id, op, args } }) => {
  try {
    await ready;
    const result = await handle(op, args, (progress) => postMessage({ id, progress }));
    postMessage({ id, result });
  } catch (error) {
    postMessage({ id, error: String(error?.message ?? error) });
  }
};

async function handle(op, args, progress) {
  if (op === "load") {
    const { files, notes } = args.from.files ? { files: await readLocal(args.from.files), notes: [] } : await download(args.from.url, progress);
    model = await WebClip.load(files, args.device);
    return { device: model.device, deviceReason: model.deviceReason, embedDim: model.embedDim, fingerprint: model.fingerprint, notes: [...notes, ...model.notes] };
  }
  if (!model) throw new Error("no model is loaded yet");
  if (op === "embedTexts") return await model.embedTexts(args.texts);
  if (op === "embedImage") return await model.embedImage(args.bytes);
  if (op === "embedImages") {
    const { rows, failures } = await model.embedImages(args.images);
    if (failures.length) throw new Error(`image ${failures[0].index + args.first}: ${failures[0].error}`);
    return rows;
  }
  if (op === "stats") return { imagesEncoded: model.imagesEncoded, kernelLaunches: model.kernelLaunches };
  if (op.startsWith("collection.")) return await collectionCall(model, op.slice("collection.".length), args);
  if (op === "classify") return await model.classify(args.bytes, args.labels, args.template, args.frameInk);
  throw new Error(`unknown call ${op}`);
}

/** Files picked or dropped by the person: matched by name, folders ignored. */
async function readLocal(list) {
  const found = {};
  for (const { name, text, optional } of await modelFiles) {
    const file = list.find((f) => f.name === name);
    if (!file) {
      if (optional) continue;
      throw new Error(`${name} is missing from the chosen files`);
    }
    found[name] = text ? await file.text() : new Uint8Array(await file.arrayBuffer());
  }
  return found;
}

/** A failed download, with what a person can do about it. */
function downloadError(url, name, { status, statusText }) {
  let hint = "";
  if (status === 401) hint = ": on the Hugging Face hub this means the repo does not exist, or it is private or gated";
  if (status === 404 && name === "model.safetensors") hint = ": webclip reads only safetensors weights, so pick a revision that has them (for openai/clip-vit-base-patch32, refs/pr/15)";
  return new Error(`${url} answered ${status} ${statusText}${hint}`);
}

/** How many resumes in a row may get no further before a download is given up. */
const RESUMES = 3;

/**
 * Downloads the model folder at `base`, from the Cache API when it is there.
 * A file is used and cached only when whole: its length must be what the
 * server announced and, for the weights, what their own header describes.
 * Returns the files and notes for the person (a file that could not be kept).
 */
async function download(base, progress) {
  // The Cache API exists only in secure contexts (https or localhost).
  const cache = await globalThis.caches?.open(CACHE_NAME).catch(() => null);
  const found = {};
  const notes = [];
  for (const { name, text, optional } of await modelFiles) {
    const url = `${base.replace(/\/$/, "")}/${name}`;
    let body = cache && (await cachedBody(cache, url, name));
    if (body) {
      progress({ file: name, loaded: body.length, total: body.length, cached: true });
    } else {
      body = await fetchWhole(url, name, optional, progress);
      if (!body) continue;
      checkLength(name, body);
      const headers = { [LENGTH_HEADER]: String(body.length) };
      await cache?.put(url, new Response(body, { headers })).catch((error) => {
        const full = error?.name === "QuotaExceededError" ? "the browser's storage for this site is full" : error?.message ?? error;
        notes.push(`${name} was not kept for the next visit (${full}), so it will be downloaded again`);
      });
    }
    found[name] = text ? new TextDecoder().decode(body) : body;
  }
  return { files: found, notes };
}

/** The length a cached file had when it was stored, to catch a damaged entry. */
const LENGTH_HEADER = "x-webclip-length";

/** A cached file's bytes, or null when there is none or the entry is damaged (then it is dropped). */
async function cachedBody(cache, url, name) {
  const response = await cache.match(url).catch(() => null);
  if (!response) return null;
  try {
    const body = new Uint8Array(await response.arrayBuffer());
    if (String(body.length) !== response.headers.get(LENGTH_HEADER)) throw new Error("length differs");
    checkLength(name, body);
    return body;
  } catch {
    await cache.delete(url).catch(() => {});
    return null;
  }
}

/** Throws when `body` is not the whole file: the weights' header says how long they are. */
function checkLength(name, body) {
  if (name !== "model.safetensors" || body.length < 8) return;
  const headerLength = Number(new DataView(body.buffer, body.byteOffset, 8).getBigUint64(0, true));
  const expected = WebClip.safetensorsLength(body.subarray(0, Math.min(body.length, 8 + headerLength)));
  if (expected !== body.length) {
    throw new Error(`${name} is incomplete: its header describes ${expected} bytes but ${body.length} arrived; load it again`);
  }
}

/**
 * The whole body at `url` (null for a missing optional file). A connection
 * that breaks off is resumed where it stopped with an HTTP Range request; a
 * server that ignores Range sends the file again from the start.
 */
async function fetchWhole(url, name, optional, progress) {
  const request = async (headers) => {
    try {
      // The Cache API keeps the files; the HTTP cache would hold a second copy
      // (and patch broken responses together on its own).
      return await fetch(url, { headers, cache: "no-store" });
    } catch {
      throw new Error(`could not reach ${new URL(url).host} to download ${name}; check the connection or load local files`);
    }
  };
  let response = await request({});
  if (!response.ok) {
    if (optional && response.status === 404) return null;
    throw downloadError(url, name, response);
  }
  // A compressed body's Content-Length counts compressed bytes: then the length is unknown.
  const encoding = response.headers.get("content-encoding");
  const total = encoding && encoding !== "identity" ? 0 : Number(response.headers.get("content-length")) || 0;
  const chunks = [];
  let loaded = 0;
  for (let stalls = 0; ; ) {
    const before = loaded;
    let failure = null;
    try {
      const reader = response.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
        loaded += value.length;
        progress({ file: name, loaded, total });
      }
    } catch (error) {
      failure = error;
    }
    if (!failure && (!total || loaded === total)) break;
    if (total && loaded > total) throw new Error(`${url} sent ${loaded} bytes after announcing ${total}; load it again`);
    stalls = loaded > before ? 0 : stalls + 1;
    if (stalls === RESUMES) {
      const where = total ? `${loaded} of ${total} bytes` : `${loaded} bytes`;
      throw new Error(`the download of ${name} broke off at ${where} and ${RESUMES} attempts to resume it got no further; check the connection and load it again`);
    }
    response = await request(total ? { range: `bytes=${loaded}-` } : {});
    const resumed = response.status === 206 && response.headers.get("content-range")?.startsWith(`bytes ${loaded}-`);
    if (!resumed) {
      if (!response.ok) throw downloadError(url, name, response);
      chunks.length = 0;
      loaded = 0;
    }
  }
  const body = new Uint8Array(loaded);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.length;
  }
  return body;
}
