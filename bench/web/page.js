// One system (webclip or transformers.js) on one device, timed in this page:
// load, first image, image median, 8-prompt median, a batch of 16 images.
// bench.mjs opens it once per system and device and reads window.benchResult.

const params = new URLSearchParams(location.search);
const system = params.get("system");
const device = params.get("device");
const model = params.get("model");
const repeats = Number(params.get("repeats"));
const batch = Number(params.get("batch"));

const PROMPTS = [
  "a photo of a cat",
  "a photo of a dog",
  "a tabby cat lying on a wooden floor next to a window",
  "a close-up photo of a kitten",
  "a bird",
  "an orange cat looking at the camera with green eyes",
  "a car parked on the street",
  "a drawing of a house",
];

/** The same 224x224 PNG for both systems: the middle of the fixture photo. */
async function testImage() {
  const bitmap = await createImageBitmap(await (await fetch("/images/chelsea.png")).blob());
  const canvas = new OffscreenCanvas(224, 224);
  const side = Math.min(bitmap.width, bitmap.height);
  canvas
    .getContext("2d")
    .drawImage(bitmap, (bitmap.width - side) / 2, (bitmap.height - side) / 2, side, side, 0, 0, 224, 224);
  return canvas.convertToBlob({ type: "image/png" });
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function timed(work) {
  const start = performance.now();
  const value = await work();
  return [performance.now() - start, value];
}

/** Rows of a flat Float32Array (or tensor data), each scaled to unit length. */
function unitRows(data, dim) {
  const rows = [];
  for (let i = 0; i < data.length; i += dim) {
    const row = Array.from(data.slice(i, i + dim));
    const norm = Math.hypot(...row);
    rows.push(row.map((v) => v / norm));
  }
  return rows;
}

async function webclip() {
  const { ClipModel } = await import("/webclip.js");
  const clip = await ClipModel.load(`/models/${model}`, { device });
  return {
    dim: clip.embedDim,
    image: async (blob) => unitRows(await clip.embedImage(blob), clip.embedDim),
    images: (blobs) => clip.embedImages(blobs),
    texts: async (texts) => unitRows(await clip.embedText(texts), clip.embedDim),
  };
}

async function transformersJs() {
  const tjs = await import("/tjs/transformers.min.js");
  const { env } = tjs;
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = "/models/";
  env.backends.onnx.wasm.wasmPaths = "/tjs/";
  env.backends.onnx.wasm.numThreads = 1;
  const options = { device: device === "cpu" ? "wasm" : "webgpu", dtype: "fp32" };
  const [tokenizer, processor, vision, text] = await Promise.all([
    tjs.AutoTokenizer.from_pretrained(model),
    tjs.AutoProcessor.from_pretrained(model),
    tjs.CLIPVisionModelWithProjection.from_pretrained(model, options),
    tjs.CLIPTextModelWithProjection.from_pretrained(model, options),
  ]);
  const embedImages = async (blobs) => {
    const images = await Promise.all(blobs.map((blob) => tjs.RawImage.fromBlob(blob)));
    const { image_embeds } = await vision(await processor(images));
    return image_embeds;
  };
  return {
    image: async (blob) => {
      const embeds = await embedImages([blob]);
      return unitRows(embeds.data, embeds.dims[1]);
    },
    images: embedImages,
    texts: async (texts) => {
      const { text_embeds } = await text(tokenizer(texts, { padding: true, truncation: true }));
      return unitRows(text_embeds.data, text_embeds.dims[1]);
    },
  };
}

async function run() {
  const image = await testImage();
  const result = { system, device, model, repeats };
  const [loadMs, clip] = await timed(system === "webclip" ? webclip : transformersJs);
  result.load_ms = loadMs;
  const [firstMs, embedding] = await timed(() => clip.image(image));
  result.first_image_ms = firstMs;
  result.image_embedding = embedding[0];
  const imageTimes = [];
  for (let i = 0; i < repeats; i++) imageTimes.push((await timed(() => clip.image(image)))[0]);
  if (repeats) result.image_ms = median(imageTimes);
  // Each round's prompts differ from the last (webclip caches prompts by text);
  // at least one round.
  const textTimes = [];
  for (let i = 0; i < Math.max(repeats, 1); i++) {
    const prompts = i === 0 ? PROMPTS : PROMPTS.map((p) => `${p} (${i})`);
    const [ms, rows] = await timed(() => clip.texts(prompts));
    textTimes.push(ms);
    if (i === 0) result.text_embeddings = rows;
  }
  result.text8_ms = median(textTimes);
  if (batch) {
    const [ms] = await timed(() => clip.images(Array(batch).fill(image)));
    result.batch = batch;
    result.batch_images_per_s = (1000 * batch) / ms;
  }
  return result;
}

/**
 * webclip's photo collections: indexing the fixture images (`copies` times
 * each, under other names) through Collection.add, then queries on it; and
 * the search alone over 10,000 random rows of the model's width in the wasm
 * module (what a query costs at that size, beside encoding its words).
 */
async function photos() {
  const { ClipModel, Collection } = await import("/webclip.js");
  const result = { system, device, model, repeats };
  const clip = await ClipModel.load(`/models/${model}`, { device });
  const images = params.get("images").split(",");
  const copies = Number(params.get("copies"));
  const files = [];
  for (const name of images) {
    const blob = await (await fetch(`/images/${name}`)).blob();
    for (let copy = 0; copy < copies; copy++) files.push(new File([blob], `${copy}/${name}`, { lastModified: 0 }));
  }
  const collection = await Collection.open("bench", clip);
  await collection.clear();
  const [addMs, added] = await timed(() => collection.add(files));
  Object.assign(result, { files: files.length, encoded: added.encoded, failures: added.failures.length, index_images_per_s: (1000 * added.encoded) / addMs });
  result.reindex_ms = (await timed(() => collection.add(files)))[0];
  const textTimes = [];
  const likeTimes = [];
  for (let i = 0; i < repeats; i++) {
    textTimes.push((await timed(() => collection.search(`a photo of a cat, take ${i}`, { k: 10 })))[0]);
    likeTimes.push((await timed(() => collection.search({ name: files[i % files.length].name }, { k: 10 })))[0]);
  }
  result.text_query_ms = median(textTimes);
  result.like_query_ms = median(likeTimes);
  // Two classes taught by 10 examples each.
  const examples = { first: files.slice(0, 10).map((f) => f.name), second: files.slice(10, 20).map((f) => f.name) };
  const [teachMs, taught] = await timed(() => collection.teach(examples));
  Object.assign(result, { teach_ms: teachMs, teach_examples: 20, teach_accuracy: taught.accuracy });
  await collection.clear();
  clip.dispose();

  const { default: init, WebCollection } = await import("/pkg/webclip_wasm.js");
  await init({ module_or_path: "/pkg/webclip_wasm_bg.wasm" });
  const rows = 10_000;
  const large = new WebCollection("random", clip.embedDim);
  const unit = () => {
    const row = Float32Array.from({ length: clip.embedDim }, () => Math.random() - 0.5);
    const norm = Math.hypot(...row);
    return row.map((v) => v / norm);
  };
  for (let i = 0; i < rows; i++) large.insert(`photo-${i}.jpg`, 1, 0, unit());
  const query = unit();
  const top10 = [];
  const all = [];
  for (let i = 0; i < 20; i++) {
    top10.push((await timed(async () => large.search(query, 10)))[0]);
    all.push((await timed(async () => large.search(query, rows)))[0]);
  }
  Object.assign(result, { search_rows: rows, search_top10_ms: median(top10), search_all_ms: median(all) });
  return result;
}

// Without a system the page stays empty (profile.mjs drives it itself).
if (system) (system === "photos" ? photos() : run()).then(
  (result) => {
    window.benchResult = result;
    document.getElementById("status").textContent = "Done.";
  },
  (error) => {
    window.benchResult = { error: String(error?.stack ?? error) };
    document.getElementById("status").textContent = `Failed: ${error}`;
  },
);
