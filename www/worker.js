// The Web Worker that owns the model: downloads (or reads) its files, runs the
// wasm module, answers the page's calls. See webclip.js for the API.

import init, { WebClip } from "./pkg/webclip_wasm.js";
import { CACHE_NAME } from "./webclip.js";

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
    const files = args.from.files ? await readLocal(args.from.files) : await download(args.from.url, progress);
    model = await WebClip.load(files, args.device);
    return { device: model.device, deviceReason: model.deviceReason, embedDim: model.embedDim };
  }
  if (!model) throw new Error("no model is loaded yet");
  if (op === "embedTexts") return await model.embedTexts(args.texts);
  if (op === "embedImage") return await model.embedImage(args.bytes);
  if (op === "classify") return await model.classify(args.bytes, args.labels, args.template);
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

/** Downloads the model folder at `base`, from the Cache API when it is there. */
async function download(base, progress) {
  // The Cache API exists only in secure contexts (https or localhost).
  const cache = await globalThis.caches?.open(CACHE_NAME).catch(() => null);
  const found = {};
  for (const { name, text, optional } of await modelFiles) {
    const url = `${base.replace(/\/$/, "")}/${name}`;
    let response = await cache?.match(url);
    if (!response) {
      try {
        response = await fetch(url);
      } catch {
        throw new Error(`could not reach ${new URL(url).host} to download ${name}; check the connection or load local files`);
      }
      if (!response.ok) {
        if (optional && response.status === 404) continue;
        throw downloadError(url, name, response);
      }
      const body = await readWithProgress(response, name, progress);
      await cache?.put(url, new Response(body, { headers: response.headers })).catch(() => {});
      found[name] = text ? new TextDecoder().decode(body) : body;
      continue;
    }
    const body = new Uint8Array(await response.arrayBuffer());
    progress({ file: name, loaded: body.length, total: body.length, cached: true });
    found[name] = text ? new TextDecoder().decode(body) : body;
  }
  return found;
}

async function readWithProgress(response, file, progress) {
  const total = Number(response.headers.get("content-length")) || 0;
  const reader = response.body.getReader();
  const chunks = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    progress({ file, loaded, total });
  }
  const body = new Uint8Array(loaded);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.length;
  }
  return body;
}
