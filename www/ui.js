// What the page's screens share: element lookup, status lines, probability
// bars, and the bundled model's place.

export const $ = (id) => document.getElementById(id);

/** The bundled sketch model's folder, relative to the page. */
export const BUNDLED_MODEL = "models/sketch";

/** Whether a URL path is the bundled sketch model's folder. */
export const isBundledModel = (path) => path.replace(/\/$/, "").endsWith(`/${BUNDLED_MODEL}`);

/** Shows `text` in the status line `id`, marked as an error or not. */
export function setStatus(id, text, isError = false) {
  const element = $(id);
  element.textContent = text;
  element.classList.toggle("error", isError);
}

export const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** A list item: the label, a bar as long as `prob`, and `prob` in percent. */
export function probabilityBar(label, prob, { className, digits = 1 }) {
  const row = document.createElement("li");
  row.className = className;
  row.dataset.label = label;
  const name = document.createElement("span");
  name.className = "label";
  name.textContent = label;
  const track = document.createElement("span");
  track.className = "track";
  track.setAttribute("aria-hidden", "true");
  const fill = document.createElement("span");
  fill.className = "fill";
  fill.style.width = `${prob * 100}%`;
  track.append(fill);
  const value = document.createElement("output");
  value.textContent = `${(prob * 100).toFixed(digits)}%`;
  row.append(name, track, value);
  return row;
}

/** Calls `onDrop(dataTransfer)` for what is dropped on `element`, which is marked while dragged over. */
export function dropZone(element, onDrop) {
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

/**
 * The files in dropped files and folders, shallowest first, down to
 * `maxDepth` folders deep: `[{ file, path }]`, path from the dropped folder
 * ("holiday/beach.jpg").
 */
export async function droppedFiles(dataTransfer, maxDepth) {
  // Entries must be taken during the drop event: the DataTransfer is emptied after it.
  let level = [...dataTransfer.items].map((item) => item.webkitGetAsEntry?.()).filter(Boolean);
  const files = [];
  for (let depth = 0; level.length && depth <= maxDepth; depth++) {
    const next = [];
    for (const entry of level) {
      if (entry.isFile) files.push({ file: await new Promise((resolve, reject) => entry.file(resolve, reject)), path: entry.fullPath.replace(/^\//, "") });
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
