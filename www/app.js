// The page: pick a model, add images, type prompts, read the bars.

import { ClipModel } from "./webclip.js";

const $ = (id) => document.getElementById(id);
let model = null;
let pending = [];

function status(id, text, isError = false) {
  const element = $(id);
  element.textContent = text;
  element.classList.toggle("error", isError);
}

function sourceUrl() {
  const preset = $("preset").value;
  const typed = $("source").value.trim();
  if (preset === "repo") return `https://huggingface.co/${typed}/resolve/main`;
  if (preset === "url") return typed;
  return preset;
}

$("preset").addEventListener("change", () => {
  const custom = ["repo", "url"].includes($("preset").value);
  $("source").hidden = $("source-label").hidden = !custom;
});

async function load(source) {
  model?.dispose();
  model = null;
  $("run").disabled = true;
  const progress = $("progress");
  progress.hidden = false;
  status("model-status", "loading…");
  try {
    model = await ClipModel.load(source, {
      device: $("device").value,
      onProgress: ({ file, loaded, total, cached }) => {
        if (total) progress.value = loaded / total;
        const mb = (n) => (n / 1e6).toFixed(1);
        status("model-status", `${file}: ${mb(loaded)} / ${mb(total)} MB${total ? ` (${Math.round((100 * loaded) / total)}%)` : ""}${cached ? " from the cache" : ""}`);
      },
    });
    status("model-status", `ready on ${model.device === "webgpu" ? "WebGPU" : "the CPU"}`);
    $("run").disabled = false;
  } catch (error) {
    status("model-status", error.message, true);
  } finally {
    progress.hidden = true;
  }
}

$("model-form").addEventListener("submit", (event) => {
  event.preventDefault();
  load(sourceUrl());
});
$("files").addEventListener("change", (event) => load(event.target.files));
$("clear-cache").addEventListener("click", async () => {
  await caches.delete("webclip-models");
  status("model-status", "downloaded weights cleared");
});

function addImages(files) {
  pending.push(...[...files].filter((f) => f.type.startsWith("image/") || f.type === ""));
  status("classify-status", `${pending.length} image(s) ready`);
}
$("images").addEventListener("change", (event) => addImages(event.target.files));
const drop = $("drop");
drop.addEventListener("dragover", (event) => {
  event.preventDefault();
  drop.classList.add("over");
});
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  addImages(event.dataTransfer.files);
});
document.addEventListener("paste", (event) => addImages(event.clipboardData.files));

function renderResult(file, labels, probs, ms) {
  const item = document.createElement("li");
  const image = document.createElement("img");
  image.src = URL.createObjectURL(file);
  image.alt = file.name;
  const bars = document.createElement("div");
  const order = [...probs.keys()].sort((a, b) => probs[b] - probs[a]);
  order.forEach((i, rank) => {
    const row = document.createElement("div");
    row.className = rank === 0 ? "bar top" : "bar";
    const fill = document.createElement("div");
    fill.className = "fill";
    fill.style.width = `${Math.max(1, probs[i] * 100)}%`;
    const label = document.createElement("span");
    label.textContent = labels[i];
    fill.append(label);
    const value = document.createElement("output");
    value.textContent = `${(probs[i] * 100).toFixed(1)}%`;
    row.append(fill, value);
    bars.append(row);
  });
  const meta = document.createElement("p");
  meta.className = "meta";
  meta.textContent = `${file.name} · ${ms.toFixed(0)} ms on ${model.device === "webgpu" ? "WebGPU" : "the CPU"}`;
  bars.append(meta);
  item.append(image, bars);
  $("results").prepend(item);
}

$("run").addEventListener("click", async () => {
  const labels = $("prompts").value.split("\n").map((l) => l.trim()).filter(Boolean);
  if (!labels.length) return status("classify-status", "type at least one prompt", true);
  if (!pending.length) return status("classify-status", "add an image first", true);
  const images = pending;
  pending = [];
  status("classify-status", "classifying…");
  for (const file of images) {
    const start = performance.now();
    try {
      const { probs } = await model.classify(file, labels, $("template").value);
      renderResult(file, labels, probs, performance.now() - start);
      status("classify-status", "");
    } catch (error) {
      status("classify-status", `${file.name}: ${error.message}`, true);
    }
  }
});
