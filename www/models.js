// The model picker: presets, hub repos, folder URLs and files on this device.
// One model at a time; the screens hear of every change.

import { ClipModel } from "./webclip.js";
import { $, BUNDLED_MODEL, droppedFiles, dropZone, setStatus } from "./ui.js";

/** How deep into a dropped folder to look for the model's files. */
const MAX_DROP_DEPTH = 3;

let model = null;
/** Counts load requests, so that a load overtaken by a newer one is dropped. */
let loads = 0;
/** Called with (model or null, source) whenever the current model changes. */
let onChange = () => {};

const status = (text, isError = false) => setStatus("model-status", text, isError);

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

async function load(source) {
  const ticket = ++loads;
  model?.dispose();
  model = null;
  onChange(null, source);
  const progress = $("progress");
  progress.hidden = false;
  progress.removeAttribute("value");
  status("Loading…");
  try {
    const loaded = await ClipModel.load(source, {
      device: $("device").value,
      onProgress: ({ file, loaded, total, cached }) => {
        if (ticket !== loads) return;
        const mb = (n) => `${(n / 1e6).toFixed(1)} MB`;
        if (total) progress.value = loaded / total;
        const amount = total ? `${mb(loaded)} of ${mb(total)} (${Math.floor((100 * loaded) / total)}%)` : mb(loaded);
        status(`${file}: ${amount}${cached ? " from the cache" : ""}`);
      },
    });
    if (ticket !== loads) return loaded.dispose();
    model = loaded;
    model.onGpuFailure = (error) => offerCpu(source, error);
    onChange(model, source);
    const reason = model.deviceReason ? ` (${model.deviceReason})` : "";
    const notes = model.notes.map((note) => ` Note: ${note}.`).join("");
    status(`Ready on ${model.device === "webgpu" ? "WebGPU" : "the CPU"}${reason}.${notes}`);
  } catch (error) {
    if (ticket === loads) status(`Could not load the model: ${error.message}`, true);
  } finally {
    if (ticket === loads) progress.hidden = true;
  }
}

/** The GPU failed under the model: say so, and load the same model on the CPU with one click. */
function offerCpu(source, error) {
  const message = error.message.replace(/^device: /, "");
  status(`${message[0].toUpperCase()}${message.slice(1)}.`, true);
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = "Load on the CPU";
  button.addEventListener("click", () => {
    $("device").value = "cpu";
    load(source);
  });
  $("model-status").append(" ", button);
}

/** Wires the model picker; `changed(model, source)` hears of every model change. */
export function setUpModels(changed) {
  onChange = changed;
  $("preset").addEventListener("change", () => {
    const source = SOURCES[$("preset").value];
    $("source-field").hidden = !source;
    if (!source) return;
    $("source-label").textContent = source.label;
    $("source").placeholder = source.placeholder;
    $("source-hint").textContent = source.hint;
    $("source").focus();
  });
  $("model-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const url = sourceUrl();
    if (url) load(url);
    else status(`Type a ${SOURCES[$("preset").value].label.toLowerCase()} first.`, true);
  });
  $("files").addEventListener("change", (event) => load([...event.target.files]));
  // A picked folder lists the files of its subfolders too; the worker takes
  // the first file of each name, so the folder's own files go first.
  const depth = (file) => file.webkitRelativePath.split("/").length;
  $("folder").addEventListener("change", (event) => load([...event.target.files].sort((a, b) => depth(a) - depth(b))));
  $("clear-cache").addEventListener("click", async () => {
    const cleared = await ClipModel.clearCache();
    status(cleared ? "Downloaded weights cleared." : "No downloaded weights were kept.");
  });
  dropZone($("local"), async (dataTransfer) => load((await droppedFiles(dataTransfer, MAX_DROP_DEPTH)).map(({ file }) => file)));
  // The bundled model ships with the page: load it at once, no network needed.
  if ($("preset").value === BUNDLED_MODEL) load(BUNDLED_MODEL);
}
