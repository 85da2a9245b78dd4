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
