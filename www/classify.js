// The Classify screen: images from the picker, drops, pastes and the camera,
// prompts one per line, and a result per image with its bars.

import { $, dropZone, isBundledModel, plural, probabilityBar, setStatus } from "./ui.js";
import pools from "./prompts.json" with { type: "json" };

let model = null;
let classifying = false;
/** Images added since the last classification. */
let pending = [];
let photos = 0;
let stream = null;

const status = (text, isError = false) => setStatus("classify-status", text, isError);
const ms = (duration) => `${duration.toFixed(0)} ms`;
const deviceName = () => (model?.device === "webgpu" ? "WebGPU" : "the CPU");

function updateRun() {
  $("run").disabled = !model || classifying;
}

/**
 * The prompts the screen offers for a kind of model: the sketch model knows
 * only its 20 shapes (drawn, as it was trained), CLIP weights read anything.
 * The page's own prompts are the CLIP ones. The sketch model sees only
 * drawings, so it looks at their ink (as the Draw screen does); photos must
 * not be cropped to their dark parts.
 */
const STARTERS = {
  sketch: { prompts: pools.sketch.prompts.join("\n"), template: "a drawing of {}", frameInk: true },
  clip: { prompts: $("prompts").defaultValue, template: $("template").defaultValue, frameInk: false },
};

/**
 * Images to try with one click, for each kind of model: drawings the sketch
 * model has never seen (not from its training generator), photos for CLIP.
 */
const EXAMPLES = {
  sketch: ["a house", "a cat", "an umbrella", "a fish"].map((shape) => ({
    file: `${shape.split(" ")[1]}.png`,
    label: `a drawing of ${shape}`,
  })),
  clip: [
    { file: "cat.png", label: "a photo of a cat" },
    { file: "rocket.jpg", label: "a photo of a rocket" },
  ],
};

function renderExamples(kind) {
  const buttons = EXAMPLES[kind].map(({ file, label }) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "example";
    button.setAttribute("aria-label", `Classify ${label}`);
    button.title = label;
    const picture = document.createElement("img");
    picture.src = `examples/${kind}/${file}`;
    picture.alt = "";
    button.append(picture);
    button.addEventListener("click", () => tryExample(`examples/${kind}/${file}`, file));
    return button;
  });
  $("examples").replaceChildren($("examples-title"), ...buttons);
}

/** Adds the example at `url` as an image and classifies at once. */
async function tryExample(url, name) {
  try {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${url} answered ${response.status}`);
    const blob = await response.blob();
    addImages([new File([blob], name, { type: blob.type })]);
  } catch (error) {
    return status(`Could not load the example: ${error.message}.`, true);
  }
  if (model && !classifying) await classify();
}

/** The model to classify with, or null while none is loaded, loaded from `source`. */
export function useModel(current, source) {
  model = current;
  updateRun();
  if (!model) return;
  // Prompts the person wrote stay; the starters follow the model.
  const sketch = typeof source === "string" && isBundledModel(new URL(source, document.baseURI).pathname);
  renderExamples(sketch ? "sketch" : "clip");
  const starter = STARTERS[sketch ? "sketch" : "clip"];
  $("frame-ink").checked = starter.frameInk;
  const untouched = Object.values(STARTERS).some(({ prompts, template }) => $("prompts").value === prompts && $("template").value === template);
  if (untouched) {
    $("prompts").value = starter.prompts;
    $("template").value = starter.template;
  }
}

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
  status(`${plural(pending.length, "image")} ready to classify.${note}`, skipped.length > 0);
}

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
  bars.append(...order.map((i, rank) => probabilityBar(labels[i], probs[i], { className: rank === 0 ? "bar top" : "bar" })));
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
  const frameInk = $("frame-ink").checked;
  if (!labels.length) return status("Type at least one prompt, one per line.", true);
  if (!template.includes("{}")) return status("The template needs {} where each prompt goes.", true);
  if (!pending.length) return status("Add an image first.", true);
  const images = pending;
  pending = [];
  renderQueue();
  classifying = true;
  updateRun();
  status("Classifying…");
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
        const { probs } = await model.classify(file, labels, template, { frameInk });
        renderResult(file, labels, probs, performance.now() - start, promptMs);
      } catch (error) {
        failures.push(`Could not classify ${file.name}: ${error.message}.`);
      }
    }
    const done = `${plural(images.length - failures.length, "image")} classified; ${plural(labels.length, "prompt")} encoded in ${ms(promptMs)}.`;
    status([...failures, done].join(" "), failures.length > 0);
  } catch (error) {
    // The prompts could not be encoded: keep the images for another try.
    pending.unshift(...images);
    renderQueue();
    status(error.message, true);
  } finally {
    classifying = false;
    updateRun();
  }
}

/** Wires the screen's inputs and buttons. */
export function setUpClassify() {
  renderExamples("sketch");
  $("images").addEventListener("change", (event) => addImages(event.target.files));
  $("camera-input").addEventListener("change", (event) => addImages(event.target.files));
  dropZone($("drop"), (dataTransfer) => addImages(dataTransfer.files));
  document.addEventListener("paste", (event) => {
    if (event.clipboardData?.files.length) addImages(event.clipboardData.files);
  });
  $("camera-open").addEventListener("click", async () => {
    // Without the camera API (e.g. outside a secure context) the system's
    // picker is the way in; on phones it offers the camera.
    if (!navigator.mediaDevices?.getUserMedia) return $("camera-input").click();
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    } catch (error) {
      status(`No camera to use (${error.message || error.name}): pick a photo instead.`);
      $("camera-input").click();
      return;
    }
    $("camera-video").srcObject = stream;
    $("camera").hidden = false;
    $("snap").focus();
  });
  $("snap").addEventListener("click", async () => {
    const video = $("camera-video");
    if (!video.videoWidth) return status("The camera is not ready yet.", true);
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
  $("run").addEventListener("click", classify);
}
