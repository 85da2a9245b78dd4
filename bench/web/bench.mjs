// webclip beside transformers.js in one headless Chromium, on the CPU (wasm)
// and on WebGPU: the same page headers, model, image and prompts, one thread
// each (the page is not cross-origin isolated). Prints a table of times,
// ratios, the browser's peak memory, and the cosine between the two systems'
// embeddings. Run by `cargo xtask bench-web [--quick | --large]`.
//
//   node bench.mjs --dist DIR --models DIR --images DIR --model NAME [--quick | --large] [--cpu-only | --webgpu-only] [--photos]
//
// `--large` (a ViT-L/14@336-shaped model): webclip alone on WebGPU, one image
// and one batch of 8 prompts; no peer runs that model here.
//
// `--photos` measures webclip's photo collections instead: indexing, queries,
// and the search over 10,000 rows.

import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";
import { CHROMIUM, FLAGS } from "../../tests/browser/chromium.mjs";
import { serve } from "./server.mjs";

const { values: args } = parseArgs({
  options: {
    dist: { type: "string" },
    models: { type: "string" },
    images: { type: "string" },
    model: { type: "string" },
    quick: { type: "boolean", default: false },
    large: { type: "boolean", default: false },
    "cpu-only": { type: "boolean", default: false },
    "webgpu-only": { type: "boolean", default: false },
    photos: { type: "boolean", default: false },
  },
});
const DEVICES = ["cpu", "webgpu"].filter(
  (device) => !args[device === "cpu" ? "webgpu-only" : "cpu-only"] && !(args.large && device === "cpu"),
);
const SYSTEMS = args.large ? ["webclip"] : ["webclip", "tjs"];

// SwiftShader runs WebGPU ~30x slower than the CPU path, so WebGPU gets fewer
// rounds and no batch there; a real GPU gets the same as the CPU.
// The large model: the first image and prompts only (minutes each there).
const PLAN = args.quick
  ? { cpu: { repeats: 3, batch: 16 }, webgpu: { repeats: 3, batch: 16 } }
  : args.large
    ? { webgpu: { repeats: 0, batch: 0 } }
    : { cpu: { repeats: 5, batch: 16 }, webgpu: { repeats: 3, batch: 0 } };

// ---- Peak memory of the browser: PSS summed over its process tree ----

function processTree(root) {
  const parents = new Map();
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      parents.set(pid, stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    } catch {}
  }
  const tree = [String(root)];
  for (let i = 0; i < tree.length; i++) {
    for (const [pid, parent] of parents) if (parent === tree[i]) tree.push(pid);
  }
  return tree;
}

function pssBytes(pids) {
  let total = 0;
  for (const pid of pids) {
    try {
      const match = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8").match(/^Pss:\s+(\d+) kB/m);
      if (match) total += Number(match[1]) * 1024;
    } catch {}
  }
  return total;
}

/** The browser's main process: the one whose command line holds `dir`. */
function browserPid(dir) {
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      if (cmdline.includes(dir) && !cmdline.includes("--type=")) return pid;
    } catch {}
  }
  return null;
}

// ---- One system on one device, in a browser of its own ----

async function measure(base, system, device) {
  const dir = mkdtempSync(path.join(tmpdir(), "webclip-bench-"));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
  });
  const pid = browserPid(dir);
  let peak = 0;
  const sampler = setInterval(() => {
    if (pid) peak = Math.max(peak, pssBytes(processTree(pid)));
  }, 250);
  try {
    const page = await context.newPage();
    page.on("console", (message) => message.type() === "error" && console.error(`  [${system}/${device}] ${message.text()}`));
    const { repeats, batch } = PLAN[device];
    const images = readdirSync(args.images).filter((name) => /\.(png|jpe?g|gif|webp)$/.test(name)).join(",");
    // SwiftShader's WebGPU indexes each image once; a CPU or real GPU four times.
    const copies = device === "webgpu" && !args.quick ? 1 : 4;
    const query = new URLSearchParams({ system, device, model: args.model, repeats, batch, images, copies });
    await page.goto(`${base}/bench/page.html?${query}`);
    await page.waitForFunction(() => window.benchResult, null, { timeout: 0, polling: 1000 });
    const result = await page.evaluate(() => window.benchResult);
    if (result.error) throw new Error(`${system} on ${device}: ${result.error}`);
    result.adapter = await page.evaluate(async () => {
      const adapter = await navigator.gpu?.requestAdapter();
      return adapter ? { fallback: adapter.info?.isFallbackAdapter ?? adapter.isFallbackAdapter ?? null, vendor: adapter.info?.vendor, architecture: adapter.info?.architecture } : null;
    });
    result.peak_memory_bytes = peak;
    return result;
  } finally {
    clearInterval(sampler);
    await context.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- The table ----

const cosine = (a, b) => a.reduce((sum, v, i) => sum + v * b[i], 0);
const ms = (v) => (v === undefined ? "-" : v >= 10_000 ? `${(v / 1000).toFixed(1)} s` : `${v.toFixed(0)} ms`);
const gb = (v) => `${(v / 2 ** 30).toFixed(2)} GiB`;

function table(results) {
  const rows = [["device", "measure", "webclip", "transformers.js", "webclip / peer"]];
  for (const device of ["cpu", "webgpu"]) {
    const ours = results[`webclip/${device}`];
    const theirs = results[`tjs/${device}`];
    if (!ours || !theirs) continue;
    const line = (name, a, b, format, lowerIsBetter = true) =>
      rows.push([device, name, format(a), format(b), a && b ? (lowerIsBetter ? a / b : b / a).toFixed(2) : "-"]);
    line("load (fetch + build)", ours.load_ms, theirs.load_ms, ms);
    line("first image", ours.first_image_ms, theirs.first_image_ms, ms);
    line(`image, median of ${ours.repeats}`, ours.image_ms, theirs.image_ms, ms);
    line(`8 prompts, median of ${ours.repeats}`, ours.text8_ms, theirs.text8_ms, ms);
    if (ours.batch) line(`${ours.batch} images, images/s`, ours.batch_images_per_s, theirs.batch_images_per_s, (v) => v.toFixed(2), false);
    line("peak browser memory (PSS)", ours.peak_memory_bytes, theirs.peak_memory_bytes, gb);
    const imageCos = cosine(ours.image_embedding, theirs.image_embedding);
    const textCos = Math.min(...ours.text_embeddings.map((row, i) => cosine(row, theirs.text_embeddings[i])));
    rows.push([device, "cosine webclip vs peer (image; worst prompt)", imageCos.toFixed(6), textCos.toFixed(6), ""]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  return rows.map((row) => `| ${row.map((cell, c) => cell.padEnd(widths[c])).join(" | ")} |`).join("\n");
}

/** webclip alone (`--large`). */
function largeTable(r) {
  const rows = [
    ["measure", "webclip"],
    ["load (fetch + build + warm-up)", ms(r.load_ms)],
    ["first image", ms(r.first_image_ms)],
    ["first 8 prompts", ms(r.text8_ms)],
    ["peak browser memory (PSS)", gb(r.peak_memory_bytes)],
    ["embeddings finite", String([r.image_embedding, ...r.text_embeddings].flat().every(Number.isFinite))],
  ];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  return rows.map((row) => `| ${row.map((cell, c) => cell.padEnd(widths[c])).join(" | ")} |`).join("\n");
}

/** The photo collection measures (`--photos`): webclip alone, the peer has no collections. */
function photosTable(results) {
  const rows = [["device", "measure", "webclip"]];
  for (const [device, r] of Object.entries(results)) {
    rows.push([device, `index ${r.files} files (${r.encoded} encoded, ${r.failures} unreadable), images/s`, r.index_images_per_s.toFixed(2)]);
    rows.push([device, "add the same files again (nothing to encode)", ms(r.reindex_ms)]);
    rows.push([device, `query by new words, top 10 of ${r.encoded}, median of ${r.repeats}`, ms(r.text_query_ms)]);
    rows.push([device, `query "more like this", top 10 of ${r.encoded}, median of ${r.repeats}`, ms(r.like_query_ms)]);
    rows.push([device, `teach 2 classes from ${r.teach_examples} examples, label all (leave-one-out accuracy ${r.teach_accuracy?.toFixed(2)})`, ms(r.teach_ms)]);
    rows.push([device, `search alone, ${r.search_rows} rows: top 10 / all sorted`, `${r.search_top10_ms.toFixed(1)} ms / ${r.search_all_ms.toFixed(1)} ms`]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  return rows.map((row) => `| ${row.map((cell, c) => cell.padEnd(widths[c])).join(" | ")} |`).join("\n");
}

const server = await serve(args);
if (args.photos) {
  const results = {};
  try {
    for (const device of DEVICES) {
      console.error(`bench-web: photo collections on ${device}…`);
      results[device] = await measure(`http://127.0.0.1:${server.address().port}`, "photos", device);
    }
  } finally {
    server.close();
  }
  console.log(`model ${args.model}; the fixture images (tests/fixtures/images); 1 thread`);
  console.log(photosTable(results));
  process.exit(0);
}
const base = `http://127.0.0.1:${server.address().port}`;
const results = {};
try {
  for (const device of DEVICES) {
    for (const system of SYSTEMS) {
      const started = performance.now();
      console.error(`bench-web: ${system} on ${device}…`);
      results[`${system}/${device}`] = await measure(base, system, device);
      console.error(`bench-web: ${system} on ${device} took ${((performance.now() - started) / 1000).toFixed(0)} s`);
    }
  }
} finally {
  server.close();
}
const adapter = Object.values(results).find((r) => r.device === "webgpu")?.adapter;
console.log(
  `model ${args.model}; one 224x224 PNG, 8 prompts; 1 thread each (page not cross-origin isolated); ` +
    `WebGPU adapter: ${adapter ? `${adapter.vendor ?? "?"} ${adapter.architecture ?? ""}${adapter.fallback ? " (software fallback)" : ""}` : "none"}; ` +
    `ratio = webclip time / peer time (below 1: webclip is faster)`,
);
console.log(args.large ? largeTable(results["webclip/webgpu"]) : table(results));
console.log(JSON.stringify(Object.fromEntries(Object.entries(results).map(([key, r]) => [key, { ...r, image_embedding: undefined, text_embeddings: undefined }]))));
