// The worker's side of photo collections (see Collection in webclip.js): one
// WebCollection per open collection, kept in the origin-private file system
// in the command line's index format, under
//   webclip-collections/<model fingerprint>/<collection name>/
//     index.json, embeddings.safetensors, images.jsonl  (the index)
//     classes.json                                       (classes taught by example)
//     thumbs/<hash of the image name>.jpg                (small pictures for results)
//     thumbs.json                                        (the thumbnails' bytes in all)
// so one model's collections never mix with another's. Nothing here leaves
// the browser.

import { WebCollection } from "./pkg/webclip_wasm.js";

const ROOT = "webclip-collections";
const INDEX_FILES = ["index.json", "embeddings.safetensors", "images.jsonl"];
const CLASSES_FILE = "classes.json";
/** Keeps the thumbnails' total size: adding up 10,000 files at every visit takes seconds. */
const THUMBS_FILE = "thumbs.json";
/** The longer side of a thumbnail, in pixels: enough for a results grid. */
const THUMB_SIDE = 192;

/** Open collections by name: { inner: WebCollection, dir, thumbs, thumbBytes, bytes, examples, dirty }. */
const open = new Map();

/** Runs collection calls one at a time per collection: an add never interleaves with a clear. */
export function collectionCall(model, op, args) {
  const key = `${model.fingerprint}/${args.name}`;
  const run = async () => {
    if (op === "open") return openCollection(model, key, args.name);
    const collection = open.get(key);
    if (!collection) throw new Error(`the collection "${args.name}" is not open`);
    return OPS[op](model, collection, args);
  };
  const queue = (queues.get(key) ?? Promise.resolve()).then(run, run);
  queues.set(key, queue.catch(() => {}));
  return queue;
}
const queues = new Map();

const OPS = { add, save, names, search, label, teach, remove, clear, thumbnail };

async function storage() {
  if (!navigator.storage?.getDirectory) throw new Error("this browser cannot keep files for the page (no origin-private file system), so a collection cannot be kept");
  return navigator.storage.getDirectory();
}

async function folder(model, name) {
  let dir = await (await storage()).getDirectoryHandle(ROOT, { create: true });
  dir = await dir.getDirectoryHandle(model.fingerprint, { create: true });
  return dir.getDirectoryHandle(name, { create: true });
}

async function readFile(dir, name) {
  try {
    return new Uint8Array(await (await (await dir.getFileHandle(name)).getFile()).arrayBuffer());
  } catch (error) {
    if (error?.name === "NotFoundError") return null;
    throw error;
  }
}

async function readJson(dir, name) {
  const bytes = await readFile(dir, name);
  return bytes && JSON.parse(new TextDecoder().decode(bytes));
}

async function writeFile(dir, name, data) {
  const writable = await (await dir.getFileHandle(name, { create: true })).createWritable();
  await writable.write(data);
  await writable.close();
}

/** Bytes the collection's files take: the few in its folder, and the thumbnails as counted. */
async function usage(collection) {
  let bytes = collection.thumbBytes;
  for await (const handle of collection.dir.values()) {
    if (handle.kind === "file") bytes += (await handle.getFile()).size;
  }
  return bytes;
}

function summary(collection) {
  return { size: collection.inner.size, bytes: collection.bytes, examples: collection.examples };
}

async function openCollection(model, key, name) {
  if (!name || typeof name !== "string") throw new Error("a collection needs a name");
  if (!open.has(key)) {
    const dir = await folder(model, name);
    const [index, embeddings, images] = await Promise.all(INDEX_FILES.map((file) => readFile(dir, file)));
    let inner;
    if (index && embeddings && images) {
      inner = WebCollection.fromFiles(index, embeddings, images, `the collection "${name}"`);
      if (inner.model !== model.fingerprint) {
        throw new Error(`the collection "${name}" was made by another model; webclip never mixes models`);
      }
    } else {
      inner = new WebCollection(model.fingerprint, model.embedDim);
    }
    const examples = await readJson(dir, CLASSES_FILE);
    const thumbs = await dir.getDirectoryHandle("thumbs", { create: true });
    const thumbBytes = (await readJson(dir, THUMBS_FILE))?.bytes ?? 0;
    const collection = { inner, dir, thumbs, thumbBytes, examples, bytes: 0, dirty: false };
    collection.bytes = await usage(collection);
    open.set(key, collection);
  }
  return summary(open.get(key));
}

/**
 * Encodes one batch of files (File or Blob with a name) into the collection,
 * skipping those already there unchanged: `{ encoded, unchanged, failures: [{ name, error }] }`.
 */
async function add(model, collection, { files }) {
  const fresh = [];
  let unchanged = 0;
  for (const { file, name } of files) {
    const modified = file.lastModified ?? 0;
    if (collection.inner.hasUnchanged(name, file.size, modified)) unchanged++;
    else fresh.push({ file, name, modified });
  }
  const failures = [];
  if (fresh.length) {
    const bytes = await Promise.all(fresh.map(({ file }) => file.arrayBuffer().then((b) => new Uint8Array(b))));
    const { rows, failures: bad } = await model.embedImages(bytes);
    const failed = new Set(bad.map(({ index }) => index));
    for (const { index, error } of bad) failures.push({ name: fresh[index].name, error });
    let row = 0;
    for (const [i, { file, name, modified }] of fresh.entries()) {
      if (failed.has(i)) continue;
      const embedding = rows.subarray(row * model.embedDim, (row + 1) * model.embedDim);
      row++;
      collection.inner.insert(name, file.size, modified, embedding);
      const thumb = await thumbnailOf(file).catch(() => null);
      if (thumb) {
        collection.thumbBytes += thumb.size - (await thumbnailSize(collection, name));
        await writeFile(collection.thumbs, thumbFile(name), thumb);
      }
    }
    collection.dirty = true;
  }
  return { encoded: fresh.length - failures.length, unchanged, failures, size: collection.inner.size };
}

/** Writes the index when it changed since it was last written. */
async function save(model, collection) {
  if (collection.dirty) {
    const files = collection.inner.toFiles();
    for (const name of INDEX_FILES) await writeFile(collection.dir, name, files[name]);
    await writeFile(collection.dir, THUMBS_FILE, JSON.stringify({ bytes: collection.thumbBytes }));
    collection.dirty = false;
    collection.bytes = await usage(collection);
  }
  return summary(collection);
}

/** The names of the images, in the order they were added. */
async function names(model, collection) {
  return collection.inner.names();
}

/** A small JPEG of the image, or null when the browser cannot draw it. */
async function thumbnailOf(file) {
  const bitmap = await createImageBitmap(file);
  const scale = Math.min(1, THUMB_SIDE / Math.max(bitmap.width, bitmap.height));
  const canvas = new OffscreenCanvas(Math.max(1, Math.round(bitmap.width * scale)), Math.max(1, Math.round(bitmap.height * scale)));
  const context = canvas.getContext("2d");
  context.imageSmoothingQuality = "high";
  context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  return canvas.convertToBlob({ type: "image/jpeg", quality: 0.8 });
}

/** The size of an image's thumbnail, 0 when it has none. */
async function thumbnailSize(collection, image) {
  return (await thumbnail(null, collection, { image }))?.size ?? 0;
}

/** The thumbnail of an image of the collection as a Blob, or null. */
async function thumbnail(model, collection, { image }) {
  try {
    return await (await collection.thumbs.getFileHandle(thumbFile(image))).getFile();
  } catch {
    return null;
  }
}

/** The thumbnail's file name for an image name of any length or characters: 53 bits of hash. */
function thumbFile(text) {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return `${(4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36)}.jpg`;
}

/**
 * The `k` best matches of a query made of parts `{ text | image | embedding | name, weight }`,
 * summed with their weights (rclip's "query + image - query").
 */
async function search(model, collection, { parts, k }) {
  if (!parts.length) throw new Error("a search needs a query: words, an image or an embedding");
  const dim = model.embedDim;
  const rows = new Float32Array(parts.length * dim);
  for (const [i, part] of parts.entries()) rows.set(await partEmbedding(model, collection, part), i * dim);
  const query = WebCollection.combine(rows, Float32Array.from(parts, (p) => p.weight ?? 1), dim);
  return collection.inner.search(query, k);
}

async function partEmbedding(model, collection, part) {
  if (typeof part.text === "string") {
    if (!part.text.trim()) throw new Error("a search for words needs some words");
    return model.embedTexts([part.text]);
  }
  if (part.image) {
    const { rows, failures } = await model.embedImages([part.image]);
    if (failures.length) throw new Error(`the query image: ${failures[0].error}`);
    return rows;
  }
  if (typeof part.name === "string") {
    const row = collection.inner.embedding(part.name);
    if (!row) throw new Error(`${part.name} is not in the collection`);
    return row;
  }
  const row = part.embedding;
  if (!(row instanceof Float32Array) || row.length !== model.embedDim) {
    throw new Error(`a query embedding must be a Float32Array of ${model.embedDim} values`);
  }
  if (!row.every(Number.isFinite)) throw new Error("a query embedding holds a NaN or an infinity");
  return row;
}

/** Zero-shot labels for every image: `{ names, probs }`, probs `size × labels.length`. */
async function label(model, collection, { labels, template }) {
  if (!collection.inner.size) throw new Error("the collection is empty: add photos first");
  return { names: collection.inner.names(), probs: await model.labelCollection(collection.inner, labels, template) };
}

/**
 * Teaches classes from examples `{ class: [image names] }`, labels every image
 * with them and keeps them for the next visit: `{ names, classes, probs, accuracy }`.
 */
async function teach(model, collection, { examples }) {
  const classes = Object.keys(examples);
  const names = [];
  const labels = [];
  for (const [i, cls] of classes.entries()) {
    for (const name of examples[cls]) {
      names.push(name);
      labels.push(i);
    }
  }
  const { probs, accuracy } = collection.inner.teach(names, Uint32Array.from(labels), classes.length);
  await writeFile(collection.dir, CLASSES_FILE, JSON.stringify(examples));
  collection.examples = examples;
  return { names: collection.inner.names(), classes, probs, accuracy };
}

/** Drops the named images and their thumbnails; returns how many were there. */
async function remove(model, collection, { images }) {
  const removed = collection.inner.remove(images);
  for (const image of images) {
    collection.thumbBytes -= await thumbnailSize(collection, image);
    await collection.thumbs.removeEntry(thumbFile(image)).catch(() => {});
  }
  collection.dirty ||= removed > 0;
  await save(model, collection);
  return removed;
}

/** Deletes the collection's files: it is empty afterwards, and takes no storage. */
async function clear(model, collection) {
  const entries = [];
  for await (const name of collection.dir.keys()) entries.push(name);
  for (const name of entries) await collection.dir.removeEntry(name, { recursive: true });
  collection.inner = new WebCollection(model.fingerprint, model.embedDim);
  collection.thumbs = await collection.dir.getDirectoryHandle("thumbs", { create: true });
  collection.examples = null;
  collection.dirty = false;
  collection.thumbBytes = 0;
  collection.bytes = 0;
  return summary(collection);
}
