// The Photos screen: a collection of the person's photos indexed with the
// loaded model and kept in this browser (Collection in webclip.js); search by
// words, by an image or both, label every photo by words or by classes taught
// from a few marked examples, and download the labels as CSV.

import { Collection } from "./webclip.js";
import { $, droppedFiles, dropZone, plural, setStatus } from "./ui.js";

/** The page keeps one collection per model under this name. */
const COLLECTION = "photos";
/** Photos shown at a time in the grid, and rows in the label table. */
const PAGE = 48;
const TABLE_ROWS = 200;
/** How deep into a dropped folder to look for photos. */
const MAX_DROP_DEPTH = 16;

let model = null;
let photos = null;
/** What the grid shows: `[{ name, score? }]`, and how many of them are on screen. */
let shown = [];
let visible = 0;
/** The image the search is "like": `{ name }` of a photo here or `{ file }`. */
let like = null;
/** Marked examples for teaching: image name → class. */
let marks = new Map();
/** The last labels: `{ labels, rows: [{ name, label, probs }] }`, for the table and CSV. */
let labelled = null;
let indexing = null;
const thumbs = new Map();

const status = (text, isError = false) => setStatus("photos-status", text, isError);
const labelStatus = (text, isError = false) => setStatus("label-status", text, isError);
const megabytes = (bytes) => `${(bytes / 1e6).toFixed(bytes < 1e7 ? 1 : 0)} MB`;
const seconds = (s) => (s < 60 ? `${Math.ceil(s)} s` : `${Math.floor(s / 60)} min ${Math.ceil(s % 60)} s`);
const lines = (id) => [...new Set($(id).value.split("\n").map((line) => line.trim()).filter(Boolean))];

function updateButtons() {
  const ready = Boolean(photos) && !indexing;
  for (const id of ["photos-folder", "photos-files"]) $(id).disabled = !ready;
  for (const id of ["search-run", "label-run", "teach-run"]) $(id).disabled = !ready || !photos.size;
  $("photos-delete").hidden = !photos?.size || Boolean(indexing);
}

function showSummary() {
  const text = !photos
    ? "Load a model to index photos with it."
    : photos.size
      ? `${plural(photos.size, "photo")} indexed with this model, ${megabytes(photos.bytes)} kept in this browser.`
      : "No photos indexed with this model yet: add a folder.";
  $("photos-summary").textContent = text;
  updateButtons();
}

/** The model the screen works with; its own collection opens with it. */
export async function useModel(current) {
  indexing?.abort();
  model = current;
  photos = null;
  like = null;
  labelled = null;
  marks = new Map();
  for (const url of thumbs.values()) URL.revokeObjectURL(url);
  thumbs.clear();
  $("label-result").hidden = true;
  $("search-like").hidden = true;
  labelStatus("");
  showSummary();
  show([]);
  if (!model) return;
  try {
    const opened = await Collection.open(COLLECTION, model);
    if (model !== current) return;
    photos = opened;
    if (photos.examples) {
      $("teach-classes").value = Object.keys(photos.examples).join("\n");
      for (const [cls, names] of Object.entries(photos.examples)) for (const name of names) marks.set(name, cls);
    }
    showSummary();
    await showAll();
  } catch (error) {
    status(`The photo index cannot be opened: ${error.message}`, true);
  }
}

// ---- Adding ----

async function addFiles(entries) {
  if (!photos || indexing) return;
  const collection = photos;
  // Files of unknown type may still be images: the decoder decides.
  const images = entries.filter(({ file }) => file.type.startsWith("image/") || file.type === "");
  const others = entries.length - images.length;
  if (!images.length) return status(others ? `None of the ${plural(others, "file")} is an image.` : "No files were chosen.", true);
  indexing = new AbortController();
  updateButtons();
  const progress = $("indexing-progress");
  $("indexing").hidden = false;
  progress.value = 0;
  $("indexing-status").textContent = `Reading ${plural(images.length, "file")}…`;
  $("photos-failures").hidden = true;
  const start = performance.now();
  let result = null;
  let stopped = false;
  try {
    result = await collection.add(images.map(({ file, path }) => ({ file, name: path })), {
      signal: indexing.signal,
      onProgress: ({ done, total, encoded, unchanged, imagesPerSecond, secondsLeft }) => {
        progress.value = done / total;
        const rate = encoded ? ` · ${imagesPerSecond.toFixed(1)} images/s` : "";
        const left = secondsLeft !== null && done < total ? ` · about ${seconds(secondsLeft)} left` : "";
        const same = unchanged ? ` (${unchanged} unchanged)` : "";
        $("indexing-status").textContent = `${done} of ${total}${same}${rate}${left}`;
        showSummary();
      },
    });
  } catch (error) {
    stopped = error?.name === "AbortError";
    if (!stopped && photos === collection) status(`Indexing stopped: ${error.message}`, true);
  } finally {
    indexing = null;
    $("indexing").hidden = true;
    showSummary();
  }
  // Another model was loaded meanwhile: its own collection is on screen now.
  if (photos !== collection) return;
  const took = seconds((performance.now() - start) / 1000);
  await showAll();
  if (stopped) status(`Indexing cancelled; the photos encoded until then are kept (${plural(photos.size, "photo")}).`);
  if (result) {
    const parts = [`${plural(result.encoded, "photo")} encoded in ${took}`];
    if (result.unchanged) parts.push(`${result.unchanged} unchanged`);
    if (others) parts.push(`${plural(others, "file")} skipped (not images)`);
    if (result.failures.length) parts.push(`${result.failures.length} could not be read`);
    status(`${parts.join(", ")}.`, result.failures.length > 0);
    showFailures(result.failures);
  }
}

function showFailures(failures) {
  $("photos-failures").hidden = !failures.length;
  $("photos-failures-title").textContent = `${plural(failures.length, "file")} could not be read`;
  $("photos-failures-list").replaceChildren(
    ...failures.map(({ name, error }) => {
      const item = document.createElement("li");
      item.textContent = `${name}: ${error}`;
      return item;
    }),
  );
}

// ---- The grid ----

async function thumbnailUrl(name) {
  if (!thumbs.has(name)) {
    const blob = await photos.thumbnail(name);
    thumbs.set(name, blob ? URL.createObjectURL(blob) : "");
  }
  return thumbs.get(name);
}

/** Shows `items` (`[{ name, score? }]`) in the grid, a page at a time. */
function show(items) {
  shown = items;
  visible = 0;
  $("photo-grid").replaceChildren();
  showMore();
}

function showMore() {
  const page = shown.slice(visible, visible + PAGE);
  visible += page.length;
  $("photo-grid").append(...page.map(card));
  $("photos-more").hidden = visible >= shown.length;
}

function card({ name, score }) {
  const item = document.createElement("li");
  item.className = "card";
  const picture = document.createElement("img");
  picture.alt = name;
  picture.loading = "lazy";
  thumbnailUrl(name).then((url) => (url ? (picture.src = url) : picture.classList.add("missing")));
  const caption = document.createElement("span");
  caption.className = "name";
  caption.textContent = name;
  caption.title = name;
  item.append(picture, caption);
  if (score !== undefined) {
    const value = document.createElement("output");
    value.textContent = score.toFixed(3);
    value.title = "cosine similarity";
    item.append(value);
  }
  const more = document.createElement("button");
  more.type = "button";
  more.textContent = "More like this";
  more.addEventListener("click", () => likePhoto(name));
  const mark = document.createElement("select");
  mark.className = "mark";
  mark.setAttribute("aria-label", `Example of which class: ${name}`);
  mark.dataset.name = name;
  fillMark(mark);
  mark.addEventListener("change", () => {
    if (mark.value) marks.set(name, mark.value);
    else marks.delete(name);
    countMarks();
  });
  item.append(more, mark);
  return item;
}

function fillMark(select) {
  const classes = lines("teach-classes");
  const option = (value, text) => Object.assign(document.createElement("option"), { value, textContent: text });
  select.replaceChildren(option("", "Example of…"), ...classes.map((cls) => option(cls, cls)));
  select.value = classes.includes(marks.get(select.dataset.name)) ? marks.get(select.dataset.name) : "";
}

function countMarks() {
  const classes = lines("teach-classes");
  const counts = classes.map((cls) => `${cls}: ${[...marks.values()].filter((c) => c === cls).length}`);
  $("teach-count").textContent = classes.length ? `Examples marked: ${counts.join(", ")}.` : "";
}

async function showAll() {
  if (!photos) return;
  const names = await photos.names();
  names.sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  show(names.map((name) => ({ name })));
  if (photos.size) status(`Showing all ${plural(photos.size, "photo")}: search to sort them by a description.`);
  countMarks();
}

// ---- Search ----

async function likePhoto(name) {
  like = { name };
  $("search-like-name").textContent = name;
  $("search-like-thumb").src = await thumbnailUrl(name);
  $("search-like").hidden = false;
  $("search-image").value = "";
  await search();
}

async function search() {
  if (!photos?.size) return;
  const text = $("search-text").value.trim();
  const not = $("search-not").value.trim();
  const parts = [];
  if (text) parts.push({ text });
  if (like?.name) parts.push({ name: like.name });
  if (like?.file) parts.push({ image: like.file });
  if (not) parts.push({ text: not, weight: -1 });
  if (!text && !like) return showAll();
  const start = performance.now();
  try {
    const hits = await photos.search(parts, { k: photos.size });
    show(hits);
    const what = [text && `“${text}”`, like && `like ${like.name ?? like.file.name}`, not && `not “${not}”`].filter(Boolean).join(", ");
    status(`${plural(hits.length, "photo")} sorted by ${what} in ${(performance.now() - start).toFixed(0)} ms.`);
  } catch (error) {
    status(error.message, true);
  }
}

// ---- Labels ----

async function labelByWords() {
  const labels = lines("label-labels");
  const template = $("label-template").value;
  if (!labels.length) return labelStatus("Type at least one label, one per line.", true);
  if (!template.includes("{}")) return labelStatus("The template needs {} where each label goes.", true);
  labelStatus("Labelling…");
  const start = performance.now();
  try {
    const rows = await photos.label(labels, { template });
    showLabels(labels, rows, `${plural(rows.length, "photo")} labelled in ${(performance.now() - start).toFixed(0)} ms.`);
  } catch (error) {
    labelStatus(error.message, true);
  }
}

async function teach() {
  const classes = lines("teach-classes");
  if (classes.length < 2) return labelStatus("Name at least two classes, one per line.", true);
  const examples = Object.fromEntries(classes.map((cls) => [cls, [...marks].filter(([, c]) => c === cls).map(([name]) => name)]));
  const empty = classes.filter((cls) => !examples[cls].length);
  if (empty.length) return labelStatus(`Mark at least one photo of ${empty.map((c) => `“${c}”`).join(" and ")} in the grid above.`, true);
  labelStatus("Teaching…");
  const start = performance.now();
  try {
    const { accuracy, results } = await photos.teach(examples);
    const took = (performance.now() - start).toFixed(0);
    const score = accuracy === null ? "" : ` On the examples, each left out in turn, it is right ${(accuracy * 100).toFixed(0)}% of the time.`;
    showLabels(classes, results, `Taught from ${plural(marks.size, "example")} and labelled ${plural(results.length, "photo")} in ${took} ms.${score} The classes are kept for your next visit.`);
  } catch (error) {
    labelStatus(error.message, true);
  }
}

function showLabels(labels, rows, message) {
  labelled = { labels, rows };
  labelStatus(message);
  $("label-result").hidden = false;
  $("label-counts").replaceChildren(
    ...labels.map((label) => {
      const members = rows.filter((row) => row.label === label);
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = `${label}: ${members.length}`;
      button.addEventListener("click", () => {
        const index = labels.indexOf(label);
        show(members.map(({ name, probs }) => ({ name, score: probs[index] })).sort((a, b) => b.score - a.score));
        status(`${plural(members.length, "photo")} labelled ${label}, most certain first (the number is the probability).`);
        $("photo-grid").scrollIntoView({ block: "start" });
      });
      item.append(button);
      return item;
    }),
  );
  $("label-table").tBodies[0].replaceChildren(
    ...rows.slice(0, TABLE_ROWS).map(({ name, label, probs }) => {
      const row = document.createElement("tr");
      for (const text of [name, label, `${(Math.max(...probs) * 100).toFixed(1)}%`]) {
        row.append(Object.assign(document.createElement("td"), { textContent: text }));
      }
      return row;
    }),
  );
  $("label-more").hidden = rows.length <= TABLE_ROWS;
  $("label-more").textContent = `The first ${TABLE_ROWS} of ${rows.length} photos; the CSV has them all.`;
}

/** One CSV field, quoted when it must be (RFC 4180). */
const csvField = (value) => (/[",\n\r]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value);

/** The labels as CSV: file, top label, then the probability of each label. */
export function labelsCsv({ labels, rows }) {
  const header = ["file", "label", ...labels].map(csvField).join(",");
  const body = rows.map(({ name, label, probs }) => [csvField(name), csvField(label), ...Array.from(probs, (p) => p.toFixed(6))].join(","));
  return `${[header, ...body].join("\r\n")}\r\n`;
}

function downloadCsv() {
  if (!labelled) return;
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([labelsCsv(labelled)], { type: "text/csv" }));
  link.download = "photo-labels.csv";
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

// ---- Wiring ----

/** Wires the screen's inputs and buttons. */
export function setUpPhotos() {
  const picked = (input) => [...input.files].map((file) => ({ file, path: file.webkitRelativePath || file.name }));
  for (const id of ["photos-folder", "photos-files"]) {
    $(id).addEventListener("change", async (event) => {
      await addFiles(picked(event.target));
      event.target.value = "";
    });
  }
  dropZone($("photos-drop"), async (dataTransfer) => addFiles(await droppedFiles(dataTransfer, MAX_DROP_DEPTH)));
  $("indexing-cancel").addEventListener("click", () => indexing?.abort());
  $("photos-delete").addEventListener("click", async () => {
    if (!confirm(`Delete the index of ${plural(photos.size, "photo")} from this browser? Your photos themselves are not touched.`)) return;
    await photos.clear();
    marks.clear();
    labelled = null;
    $("label-result").hidden = true;
    showSummary();
    show([]);
    status("The index was deleted.");
  });
  $("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    search();
  });
  $("search-image").addEventListener("change", (event) => {
    const [file] = event.target.files;
    if (!file) return;
    like = { file };
    $("search-like-name").textContent = file.name;
    $("search-like-thumb").src = URL.createObjectURL(file);
    $("search-like").hidden = false;
    search();
  });
  $("search-like-clear").addEventListener("click", () => {
    like = null;
    $("search-like").hidden = true;
    $("search-image").value = "";
    search();
  });
  $("photos-more").addEventListener("click", showMore);
  $("label-run").addEventListener("click", labelByWords);
  $("teach-run").addEventListener("click", teach);
  $("label-csv").addEventListener("click", downloadCsv);
  $("teach-classes").addEventListener("input", () => {
    for (const select of $("photo-grid").querySelectorAll("select.mark")) fillMark(select);
    countMarks();
  });
}
