// The page: pick a model, add images, type prompts, read the bars.

import { ClipModel } from "./webclip.js";

const $ = (id) => document.getElementById(id);
let model = null;
/** Counts load requests, so that a load overtaken by a newer one is dropped. */
let loads = 0;
let classifying = false;
/** Images added since the last classification. */
let pending = [];
let photos = 0;
let stream = null;

function status(id, text, isError = false) {
  const element = $(id);
  element.textContent = text;
  element.classList.toggle("error", isError);
}

const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
const ms = (duration) => `${duration.toFixed(0)} ms`;
const deviceName = () => (model?.device === "webgpu" ? "WebGPU" : "the CPU");

function updateRun() {
  $("run").disabled = !model || classifying;
}

// ---- Model ----

const SOURCES = {
  repo: {
    label: "Repo id",
    placeholder: "owner/name or owner/name@revision",
    hint: "It must hold model.safetensors, config.json and tokenizer.json at that revision (main if none is given).",
  },
  url: {
    label: "Folder URL",
    placeholder: "https://… or a path on this site",
    hint: "A folder with config.json, model.safetensors, tokenizer.json and preprocessor_config.json.",
  },
};

$("preset").addEventListener("change", () => {
  const source = SOURCES[$("preset").value];
  $("source-field").hidden = !source;
  if (!source) return;
  $("source-label").textContent = source.label;
  $("source").placeholder = source.placeholder;
  $("source-hint").textContent = source.hint;
  $("source").focus();
});

/** The URL of the chosen model folder, or null when none is typed. */
function sourceUrl() {
  const preset = $("preset").value;
  const typed = $("source").value.trim();
  if (!SOURCES[preset]) return preset;
  if (!typed) return null;
  if (preset === "url") return typed;
  // A revision such as refs/pr/15 is one path segment of the URL.
  const [repo, revision = "main"] = typed.split("@");
  return `https://huggingface.co/${repo}/resolve/${encodeURIComponent(revision)}`;
}

/** Tells the Draw screen (game.js), which plays with this page's model. */
function announce(source) {
  document.dispatchEvent(new CustomEvent("webclip:model", { detail: { model, source } }));
}

async function load(source) {
  const ticket = ++loads;
  model?.dispose();
  model = null;
  announce(source);
  updateRun();
  const progress = $("progress");
  progress.hidden = false;
  progress.removeAttribute("value");
  status("model-status", "Loading…");
  try {
    const loaded = await ClipModel.load(source, {
      device: $("device").value,
      onProgress: ({ file, loaded, total, cached }) => {
        if (ticket !== loads) return;
        const mb = (n) => `${(n / 1e6).toFixed(1)} MB`;
        if (total) progress.value = loaded / total;
        const amount = total ? `${mb(loaded)} of ${mb(total)} (${Math.floor((100 * loaded) / total)}%)` : mb(loaded);
        status("model-status", `${file}: ${amount}${cached ? " from the cache" : ""}`);
      },
    });
    if (ticket !== loads) return loaded.dispose();
    model = loaded;
    announce(source);
    status("model-status", `Ready on ${deviceName()}.`);
  } catch (error) {
    if (ticket === loads) status("model-status", `Could not load the model: ${error.message}`, true);
  } finally {
    if (ticket === loads) progress.hidden = true;
    updateRun();
  }
}

$("model-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const url = sourceUrl();
  if (url) load(url);
  else status("model-status", `Type a ${SOURCES[$("preset").value].label.toLowerCase()} first.`, true);
});
$("files").addEventListener("change", (event) => load([...event.target.files]));
// The bundled model ships with the page: load it at once, no network needed.
const BUNDLED = "models/sketch";
if ($("preset").value === BUNDLED) load(BUNDLED);
// A picked folder lists the files of its subfolders too; the worker takes
// the first file of each name, so the folder's own files go first.
const depth = (file) => file.webkitRelativePath.split("/").length;
$("folder").addEventListener("change", (event) => load([...event.target.files].sort((a, b) => depth(a) - depth(b))));
$("clear-cache").addEventListener("click", async () => {
  const cleared = await ClipModel.clearCache();
  status("model-status", cleared ? "Downloaded weights cleared." : "No downloaded weights were kept.");
});

/** How deep into a dropped folder to look for the model's files. */
const MAX_DROP_DEPTH = 3;

/** The files in the dropped files and folders, shallowest first. */
async function droppedFiles(dataTransfer) {
  // Entries must be taken during the drop event: the DataTransfer is emptied after it.
  let level = [...dataTransfer.items].map((item) => item.webkitGetAsEntry?.()).filter(Boolean);
  const files = [];
  for (let depth = 0; level.length && depth <= MAX_DROP_DEPTH; depth++) {
    const next = [];
    for (const entry of level) {
      if (entry.isFile) files.push(await new Promise((resolve, reject) => entry.file(resolve, reject)));
      else next.push(...(await directoryEntries(entry)));
    }
    level = next;
  }
  return files;
}

/** readEntries hands out a directory in batches: read until an empty one. */
async function directoryEntries(directory) {
  const reader = directory.createReader();
  const entries = [];
  for (;;) {
    const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
    if (!batch.length) return entries;
    entries.push(...batch);
  }
}

function dropZone(element, onDrop) {
  element.addEventListener("dragover", (event) => {
    event.preventDefault();
    element.classList.add("over");
  });
  element.addEventListener("dragleave", () => element.classList.remove("over"));
  element.addEventListener("drop", (event) => {
    event.preventDefault();
    element.classList.remove("over");
    onDrop(event.dataTransfer);
  });
}
dropZone($("local"), async (dataTransfer) => load(await droppedFiles(dataTransfer)));

// ---- Images ----

const thumbnails = new WeakMap();
function thumbnail(file) {
  if (!thumbnails.has(file)) thumbnails.set(file, URL.createObjectURL(file));
  return thumbnails.get(file);
}

function image(file, className) {
  const element = document.createElement("img");
  element.src = thumbnail(file);
  element.alt = file.name;
  element.className = className;
  return element;
}

function renderQueue() {
  $("queue").replaceChildren(
    ...pending.map((file) => {
      const item = document.createElement("li");
      const name = document.createElement("span");
      name.textContent = file.name;
      item.append(image(file, "thumb"), name);
      return item;
    }),
  );
}

function addImages(files) {
  const all = [...files];
  // Files of unknown type may still be images: the decoder decides.
  const images = all.filter((f) => f.type.startsWith("image/") || f.type === "");
  const skipped = all.filter((f) => !images.includes(f)).map((f) => f.name);
  pending.push(...images);
  renderQueue();
  const note = skipped.length ? ` Skipped ${skipped.join(", ")}: not images.` : "";
  status("classify-status", `${plural(pending.length, "image")} ready to classify.${note}`, skipped.length > 0);
}

$("images").addEventListener("change", (event) => addImages(event.target.files));
$("camera-input").addEventListener("change", (event) => addImages(event.target.files));
dropZone($("drop"), (dataTransfer) => addImages(dataTransfer.files));
document.addEventListener("paste", (event) => {
  if (event.clipboardData?.files.length) addImages(event.clipboardData.files);
});

// ---- Camera ----

$("camera-open").addEventListener("click", async () => {
  // Without the camera API (e.g. outside a secure context) the system's
  // picker is the way in; on phones it offers the camera.
  if (!navigator.mediaDevices?.getUserMedia) return $("camera-input").click();
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
  } catch (error) {
    status("classify-status", `No camera to use (${error.message || error.name}): pick a photo instead.`);
    $("camera-input").click();
    return;
  }
  $("camera-video").srcObject = stream;
  $("camera").hidden = false;
  $("snap").focus();
});

$("snap").addEventListener("click", async () => {
  const video = $("camera-video");
  if (!video.videoWidth) return status("classify-status", "The camera is not ready yet.", true);
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext("2d").drawImage(video, 0, 0);
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
  addImages([new File([blob], `photo-${++photos}.png`, { type: "image/png" })]);
});

$("camera-close").addEventListener("click", () => {
  stream?.getTracks().forEach((track) => track.stop());
  stream = null;
  $("camera-video").srcObject = null;
  $("camera").hidden = true;
  $("camera-open").focus();
});

// ---- Classification ----

function renderResult(file, labels, probs, imageMs, promptMs) {
  const item = document.createElement("li");
  item.className = "result";
  const body = document.createElement("div");
  const title = document.createElement("h3");
  title.textContent = file.name;
  const bars = document.createElement("ol");
  bars.className = "bars";
  bars.setAttribute("aria-label", "Prompts, most likely first");
  const order = [...probs.keys()].sort((a, b) => probs[b] - probs[a]);
  order.forEach((i, rank) => {
    const row = document.createElement("li");
    row.className = rank === 0 ? "bar top" : "bar";
    const label = document.createElement("span");
    label.className = "label";
    label.textContent = labels[i];
    const track = document.createElement("span");
    track.className = "track";
    track.setAttribute("aria-hidden", "true");
    const fill = document.createElement("span");
    fill.className = "fill";
    fill.style.width = `${probs[i] * 100}%`;
    track.append(fill);
    const value = document.createElement("output");
    value.textContent = `${(probs[i] * 100).toFixed(1)}%`;
    row.append(label, track, value);
    bars.append(row);
  });
  const meta = document.createElement("p");
  meta.className = "meta";
  meta.textContent = `image ${ms(imageMs)} · prompt batch ${ms(promptMs)} · on ${deviceName()}`;
  body.append(title, bars, meta);
  item.append(image(file, "photo"), body);
  $("results").prepend(item);
}

async function classify() {
  const labels = $("prompts").value.split("\n").map((line) => line.trim()).filter(Boolean);
  const template = $("template").value;
  if (!labels.length) return status("classify-status", "Type at least one prompt, one per line.", true);
  if (!template.includes("{}")) return status("classify-status", "The template needs {} where each prompt goes.", true);
  if (!pending.length) return status("classify-status", "Add an image first.", true);
  const images = pending;
  pending = [];
  renderQueue();
  classifying = true;
  updateRun();
  status("classify-status", "Classifying…");
  try {
    const start = performance.now();
    // The prompts once for the whole batch: the model caches them by text,
    // so each classify below encodes only its image.
    await model.embedText(labels.map((label) => template.replaceAll("{}", label)));
    const promptMs = performance.now() - start;
    const failures = [];
    for (const file of images) {
      const start = performance.now();
      try {
        const { probs } = await model.classify(file, labels, template);
        renderResult(file, labels, probs, performance.now() - start, promptMs);
      } catch (error) {
        failures.push(`Could not classify ${file.name}: ${error.message}.`);
      }
    }
    const done = `${plural(images.length - failures.length, "image")} classified; ${plural(labels.length, "prompt")} encoded in ${ms(promptMs)}.`;
    status("classify-status", [...failures, done].join(" "), failures.length > 0);
  } catch (error) {
    // The prompts could not be encoded: keep the images for another try.
    pending.unshift(...images);
    renderQueue();
    status("classify-status", error.message, true);
  } finally {
    classifying = false;
    updateRun();
  }
}

$("run").addEventListener("click", classify);
