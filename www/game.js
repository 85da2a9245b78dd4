// The Draw screen: a Pictionary game like paint.wtf. The page's model (see
// useModel) judges drawings of a prompt; scores stay in this browser's
// leaderboards.

import { CANDIDATES, WRITING_TEMPLATES, contest, judge } from "./judge.js";
import { addEntry, clearAll, clearBoard, entries } from "./leaderboard.js";
import { Sketchpad } from "./sketchpad.js";
import { $, isBundledModel, probabilityBar, setStatus } from "./ui.js";
// Imported rather than fetched: the screen is ready as soon as the module is.
import pools from "./prompts.json" with { type: "json" };

/** Pen colours: the sketch model's inks first (it saw only those; a Rust test keeps them equal), then a few more for CLIP. */
const PALETTE = [
  ["black", "#1c1c20"],
  ["red", "#cd2024"],
  ["blue", "#2048cd"],
  ["green", "#1c8a34"],
  ["orange", "#ee8016"],
  ["purple", "#802ea8"],
  ["brown", "#764824"],
  ["yellow", "#f2c81e"],
  ["pink", "#f07ab4"],
  ["grey", "#8a8a8a"],
];
/** Brush widths in canvas pixels (the canvas is 512 wide): the sketch model's pens are 1.5 to 5.5 % of the sheet. */
const BRUSHES = [
  ["Small", 8],
  ["Medium", 14],
  ["Large", 26],
];
/** The live score waits this long after the last stroke, so that drawing stays smooth. */
const LIVE_DELAY_MS = 400;
const ROUND_MS = 60_000;
const BOARD_SIZE = 10;
const THUMBNAIL_PX = 96;

let model = null;
/** The leaderboards' name for the model: boards of different models are kept apart. */
let modelName = "";
/** Whether to check drawings for writing: every model but the bundled sketch model reads. */
let readsText = true;
/**
 * Whether the model sees the drawing's ink framed (nine views, see webclip.js)
 * rather than the whole sheet: the sketch model (the one that cannot read),
 * whose 64-pixel view loses a small drawing, does; CLIP weights see the
 * sheet, one encode a score.
 */
const framesInk = () => !readsText;
/** The prompt being drawn, with what it is judged against (see judge.js). */
let task = null;
/** The drawing version last submitted, so that one drawing is not submitted twice. */
let submitted = -1;
let round = null;

const status = (text, isError = false) => setStatus("game-status", text, isError);

const percent = (p) => `${Math.round(100 * p)}%`;
const rankText = ({ rank, of }) => `#${rank} of ${of}`;
const slug = (text) => text.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "drawing";

// ---- Model calls: one at a time, in order ----

let queue = Promise.resolve();
/** Runs `work` after every model call queued before it. */
function exclusive(work) {
  const run = queue.then(work);
  queue = run.catch(() => {});
  return run;
}

/**
 * The verdict on the drawing `given` (by default the drawing as it is when the
 * model gets to it); `null` when the prompt or the model changed meanwhile.
 */
function evaluate(given) {
  return exclusive(async () => {
    const [judged, by] = [task, model];
    if (!by) return null;
    const blob = given ?? (await pad.toBlob());
    const stale = () => judged !== task || by !== model;
    try {
      const { probs } = await by.classify(blob, judged.contest.sentences, "{}", { frameInk: framesInk() });
      return stale() ? null : judge(judged.contest, probs);
    } catch (error) {
      // A model replaced meanwhile rejects its calls: that is no error to show.
      if (stale()) return null;
      throw error;
    }
  });
}

/** Runs the live score once drawing pauses; never two at a time, and the last change is always scored. */
const live = {
  timer: 0,
  running: false,
  again: false,
  request() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.run(), LIVE_DELAY_MS);
  },
  cancel() {
    clearTimeout(this.timer);
    this.again = false;
  },
  async run() {
    if (this.running) return void (this.again = true);
    if (!model || pad.isEmpty) return showLive(null);
    this.running = true;
    try {
      const verdict = await evaluate();
      if (verdict) {
        showLive(verdict);
        if (round && verdict.rank === 1 && !verdict.flagged) roundPoint(true);
      }
    } catch (error) {
      status(`Could not score the drawing: ${error.message}`, true);
    } finally {
      this.running = false;
      if (this.again) {
        this.again = false;
        this.request();
      }
    }
  },
};

// ---- The canvas and its tools ----

const pad = new Sketchpad($("sketch"), {
  onChange: () => {
    updateButtons();
    $("final").replaceChildren();
    live.request();
  },
});

function radio(name, value, checked, labelText, className) {
  const label = document.createElement("label");
  label.className = className;
  const input = document.createElement("input");
  Object.assign(input, { type: "radio", name, value, checked });
  const text = document.createElement("span");
  text.textContent = labelText;
  label.append(input, text);
  return label;
}

$("other-color").closest("label").before(
  ...PALETTE.map(([name, color], i) => {
    const swatch = radio("color", color, i === 0, name, "swatch");
    swatch.style.setProperty("--swatch", color);
    return swatch;
  }),
);
$("brushes").append(...BRUSHES.map(([name, size]) => radio("brush", size, size === pad.size, name, "brush")));

$("colors").addEventListener("change", (event) => {
  if (event.target.name !== "color") return;
  pad.color = event.target.value;
  pad.erasing = false;
  $("tool-pen").checked = true;
});
$("other-color").addEventListener("input", (event) => {
  pad.color = event.target.value;
  pad.erasing = false;
  $("tool-pen").checked = true;
  for (const input of $("colors").querySelectorAll("input")) input.checked = false;
});
$("brushes").addEventListener("change", (event) => (pad.size = Number(event.target.value)));
$("tools").addEventListener("change", (event) => (pad.erasing = event.target.value === "eraser"));
$("undo").addEventListener("click", () => pad.undo());
$("clear").addEventListener("click", () => pad.clear());
$("save-png").addEventListener("click", async () => download(await pad.toBlob(), `${slug(task.prompt)}.png`));
document.addEventListener("keydown", (event) => {
  const typing = event.target.matches?.('textarea, input:not([type]), input[type="text"]');
  if ($("game").hidden || typing || !(event.ctrlKey || event.metaKey) || event.key.toLowerCase() !== "z") return;
  event.preventDefault();
  pad.undo();
});

function download(blob, name) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
}

function updateButtons() {
  $("undo").disabled = !pad.canUndo;
  $("clear").disabled = pad.isEmpty;
  $("save-png").disabled = pad.isEmpty;
  $("submit").disabled = !model || round !== null || pad.isEmpty || pad.version === submitted;
}

// ---- Prompts ----

for (const [key, pool] of Object.entries(pools)) $("pool").append(new Option(pool.name, key));

const currentPool = () => pools[$("pool").value].prompts;

/** Starts drawing `prompt` on an empty sheet; its distractors come from the current pool. */
function setTask(prompt) {
  live.cancel();
  task = { prompt, contest: contest(prompt, currentPool(), { readsText }) };
  $("prompt").textContent = prompt;
  showLive(null);
  $("final").replaceChildren();
  submitted = -1;
  pad.reset();
  renderBoard();
  // Encode the sentences now (the model keeps them), so the first score comes quickly.
  if (model) exclusive(() => model.embedText(task.contest.sentences)).catch(() => {});
}

function randomPrompt() {
  const choices = currentPool().filter((prompt) => prompt !== task?.prompt);
  return choices[Math.floor(Math.random() * choices.length)];
}

$("pool").addEventListener("change", () => setTask(randomPrompt()));
$("new-prompt").addEventListener("click", () => setTask(randomPrompt()));
$("own-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const prompt = $("own-prompt").value.trim().replace(/\s+/g, " ");
  if (!prompt) return status("Type a prompt first, e.g. a cat playing chess.", true);
  setTask(prompt);
  if (!currentPool().includes(prompt)) status(`Your own prompt, judged against ${CANDIDATES - 1} from the list.`);
});

// ---- Scores ----

function showLive(verdict) {
  $("guesses-hint").hidden = Boolean(verdict);
  $("live-score").textContent = verdict ? String(verdict.score) : "–";
  $("live-rank").textContent = verdict ? rankText(verdict) : "";
  $("live-writing").hidden = !verdict?.flagged;
  $("guesses").replaceChildren(
    ...(verdict?.guesses.slice(0, 5) ?? []).map(({ label, prob }, i) => {
      const className = ["guess", i === 0 && "top", label === task.prompt && "target"].filter(Boolean).join(" ");
      return probabilityBar(label, prob, { className, digits: 0 });
    }),
  );
}

function paragraph(text, className = "") {
  const p = document.createElement("p");
  p.textContent = text;
  p.className = className;
  return p;
}

$("submit-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if ($("submit").disabled) return;
  const name = $("player").value.trim() || "Anonymous";
  localStorage.setItem("webclip-player", name);
  $("submit").disabled = true;
  live.cancel();
  const version = pad.version;
  $("final").replaceChildren(paragraph("Judging…"));
  try {
    // Both pictures now: the player may draw on while the model judges.
    const [drawing, thumbnail] = await Promise.all([pad.toBlob(), pad.toBlob(THUMBNAIL_PX)]);
    const verdict = await evaluate(drawing);
    if (!verdict) return $("final").replaceChildren();
    submitted = version;
    showLive(verdict);
    const entry = {
      model: modelName,
      prompt: task.prompt,
      name,
      score: verdict.score,
      rank: verdict.rank,
      of: verdict.of,
      flagged: verdict.flagged,
      date: Date.now(),
      thumbnail,
      drawing,
    };
    const id = await addEntry(entry);
    const board = await entries(modelName, task.prompt);
    const place = board.findIndex((e) => e.id === id) + 1;
    const lines = [
      paragraph(`Score ${verdict.score} / 100`, "final-score"),
      paragraph(`“${task.prompt}” ranks ${rankText(verdict)} among the prompts the model compared (${percent(verdict.likeness)} likely).`),
    ];
    if (verdict.flagged) lines.push(paragraph(`Penalised: the model reads this as the words “${task.prompt}” more than as a drawing of it (${percent(verdict.writing)}).`, "error"));
    lines.push(paragraph(`Saved as ${name}: place ${place} of ${board.length} on this leaderboard.`));
    $("final").replaceChildren(...lines);
    renderBoard(board);
  } catch (error) {
    $("final").replaceChildren(paragraph(`Could not judge the drawing: ${error.message}`, "error"));
  } finally {
    updateButtons();
  }
});
$("player").value = localStorage.getItem("webclip-player") ?? "";

// ---- Leaderboard ----

let boardUrls = [];

async function renderBoard(board) {
  const prompt = task.prompt;
  $("board-prompt").textContent = prompt;
  $("board-model").textContent = modelName || "no model yet";
  try {
    board ??= modelName ? await entries(modelName, prompt) : [];
  } catch (error) {
    return status(`No leaderboard: ${error.message}`, true);
  }
  if (prompt !== task.prompt) return;
  boardUrls.forEach((url) => URL.revokeObjectURL(url));
  boardUrls = [];
  const url = (blob) => boardUrls[boardUrls.push(URL.createObjectURL(blob)) - 1];
  $("board").replaceChildren(
    ...board.slice(0, BOARD_SIZE).map((entry, i) => {
      const item = document.createElement("li");
      item.className = "entry";
      const place = document.createElement("span");
      place.className = "place";
      place.textContent = String(i + 1);
      const image = document.createElement("img");
      image.src = url(entry.thumbnail);
      image.alt = `${entry.name}'s drawing`;
      image.width = image.height = THUMBNAIL_PX;
      const who = paragraph(entry.name, "who");
      const score = paragraph(`${entry.score} · ${rankText(entry)}`, "score");
      const when = paragraph(new Date(entry.date).toLocaleString(), "when");
      const save = document.createElement("a");
      save.href = url(entry.drawing);
      save.download = `${slug(prompt)}-${slug(entry.name)}.png`;
      save.textContent = "PNG";
      save.setAttribute("aria-label", `Save ${entry.name}'s drawing as PNG`);
      const details = document.createElement("div");
      details.append(who, score, when);
      if (entry.flagged) details.append(paragraph("writing, penalised", "flag"));
      item.append(place, image, details, save);
      return item;
    }),
  );
  $("board-empty").hidden = board.length > 0;
  $("board-clear").disabled = board.length === 0;
}

$("board-clear").addEventListener("click", async () => {
  if (!confirm(`Delete every score for “${task.prompt}”?`)) return;
  await clearBoard(modelName, task.prompt);
  renderBoard();
});
$("board-clear-all").addEventListener("click", async () => {
  if (!confirm("Delete every leaderboard of this game in this browser?")) return;
  await clearAll();
  renderBoard();
});

// ---- Round mode: 60 seconds, the next prompt as soon as the model guesses it ----

function shuffled(list) {
  const copy = [...list];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy;
}

function startRound() {
  const start = performance.now();
  round = { prompts: shuffled(currentPool()), drawn: [], missed: [], start, ends: start + ROUND_MS, clock: 0 };
  // Nothing to choose or submit during a round.
  $("game-setup").hidden = $("submit-form").hidden = $("board-box").hidden = true;
  $("round").hidden = false;
  $("round-tally").textContent = "0 drawn";
  round.clock = setInterval(tick, 250);
  tick();
  setTask(round.prompts.shift());
  status("Round started: draw until the model guesses it.");
}

function tick() {
  const left = Math.max(0, round.ends - performance.now());
  const seconds = Math.ceil(left / 1000);
  $("round-clock").textContent = `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
  if (left === 0) endRound();
}

/** The prompt was guessed (or skipped): on to the next one. */
function roundPoint(guessed) {
  (guessed ? round.drawn : round.missed).push(task.prompt);
  $("round-tally").textContent = `${round.drawn.length} drawn`;
  status(guessed ? `The model saw ${task.prompt}!` : `Skipped ${task.prompt}.`);
  if (!round.prompts.length) round.prompts = shuffled(currentPool());
  setTask(round.prompts.shift());
}

function endRound() {
  clearInterval(round.clock);
  const { drawn, missed, start } = round;
  const seconds = Math.round((Math.min(performance.now(), round.ends) - start) / 1000);
  missed.push(task.prompt);
  round = null;
  $("game-setup").hidden = $("submit-form").hidden = $("board-box").hidden = false;
  $("round").hidden = true;
  live.cancel();
  const key = `webclip-best-round:${modelName}:${$("pool").value}`;
  const best = Math.max(drawn.length, Number(localStorage.getItem(key) ?? 0));
  localStorage.setItem(key, String(best));
  const lines = [
    paragraph(`Round over: ${drawn.length} drawn in ${seconds} seconds (your best: ${best}).`, "final-score"),
    paragraph(drawn.length ? `Guessed: ${drawn.join(", ")}.` : "The model guessed none this time."),
    paragraph(`Skipped or not guessed: ${missed.join(", ")}.`),
  ];
  status("Round over.");
  updateButtons();
  $("final").replaceChildren(...lines);
  $("round-start").focus();
}

$("round-start").addEventListener("click", startRound);
$("round-skip").addEventListener("click", () => roundPoint(false));
$("round-stop").addEventListener("click", () => (round.ends = performance.now()));

// ---- The model ----

/** A short name for where the model came from, for the leaderboards. */
function describe(source) {
  if (typeof source !== "string") {
    const folder = source[0]?.webkitRelativePath?.split("/")[0];
    return folder ? `files: ${folder}` : "files on this device";
  }
  const url = new URL(source, document.baseURI);
  // The bundled model knows only its 20 shapes, and cannot read.
  if (isBundledModel(url.pathname)) return "sketch model";
  const hub = url.hostname === "huggingface.co" && url.pathname.match(/^\/([^/]+\/[^/]+)\/resolve\//);
  if (hub) return hub[1];
  return url.origin === location.origin ? url.pathname : url.href;
}

/** The model that judges from now on (null while none is loaded), loaded from `source`. */
export function useModel(current, source) {
  if (round) endRound();
  model = current;
  if (!model) {
    status("No model yet: scores come once a model is loaded above.");
    return updateButtons();
  }
  modelName = describe(source);
  readsText = modelName !== "sketch model";
  $("pool").value = readsText ? "silly" : "sketch";
  $("writing-rule").hidden = !readsText;
  $("no-writing-rule").hidden = readsText;
  setTask(randomPrompt());
  status(`Judged by ${readsText ? modelName : "the bundled sketch model"}.`);
}

$("writing-templates").replaceChildren(
  ...WRITING_TEMPLATES.flatMap((template, i) => {
    const code = document.createElement("code");
    code.textContent = template.replace("{}", "…");
    return i ? [" and ", code] : [code];
  }),
);
$("candidates").textContent = String(CANDIDATES - 1);
setTask(randomPrompt());
status("Load a model above to get scores: the bundled sketch model knows 20 shapes, CLIP weights anything.");
