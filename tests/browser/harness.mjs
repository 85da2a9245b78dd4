// What the browser tests share: the served page, headless Chromium with
// WebGPU, request and console recording, screenshots, and the golden outputs
// of tests/fixtures (made by transformers, see tests/fixtures/README.md).

import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { CHROMIUM, FLAGS } from "./chromium.mjs";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const FIXTURES = path.join(ROOT, "tests/fixtures");

if (!process.env.WEBCLIP_URL) {
  throw new Error(
    "WEBCLIP_URL is not set: run these tests with `cargo xtask test` (or `cargo xtask test-web`), " +
      "or start `cargo xtask serve` and set WEBCLIP_URL=http://127.0.0.1:8000/",
  );
}
/** The page under test, served with the fixtures under /fixtures/. */
export const BASE_URL = process.env.WEBCLIP_URL;
export const ARTIFACTS = process.env.WEBCLIP_ARTIFACTS ?? path.join(ROOT, "target/browser-artifacts");

/** Per test: SwiftShader runs WebGPU on the CPU, ~1000x slower than a real GPU. */
export const TEST_TIMEOUT = 10 * 60_000;
/** Per page action or wait. */
const ACTION_TIMEOUT = 3 * 60_000;

/** Embeddings and probabilities against transformers: both compute in f32
 * in a different order of operations (the bound of tests/golden.rs). */
export const TOLERANCE = 1e-4;
/** JPEG files: the image crate's decoder and Pillow's libjpeg-turbo differ by
 * a few levels on some pixels (the bound of tests/golden.rs). */
export const JPEG_TOLERANCE = 1e-3;

export function launch(extraFlags = []) {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...FLAGS, ...extraFlags],
    timeout: ACTION_TIMEOUT,
  });
}

/**
 * Opens the page in a fresh context (empty Cache API). `requests` collects
 * every URL the page and its worker ask for; `problems` collects console
 * errors and uncaught exceptions.
 */
export async function openPage(browser, contextOptions = {}) {
  const context = await browser.newContext({ viewport: { width: 1000, height: 800 }, ...contextOptions });
  const requests = [];
  const problems = [];
  context.on("request", (request) => requests.push(request.url()));
  const page = await context.newPage();
  page.setDefaultTimeout(ACTION_TIMEOUT);
  page.on("console", (message) => message.type() === "error" && problems.push(message.text()));
  page.on("pageerror", (error) => problems.push(String(error)));
  await page.goto(BASE_URL);
  return { page, requests, problems };
}

/** Saves `ARTIFACTS/name.png`: the whole page, or with `fullPage: false` what the viewport shows. */
export async function screenshot(page, name, { fullPage = true } = {}) {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage });
}

/** Waits until the element's text matches `pattern`; returns the text. */
export async function waitForText(page, selector, pattern) {
  const element = page.locator(selector).filter({ hasText: pattern });
  await element.waitFor();
  return element.textContent();
}

/** The visible controls matching `selector` that have no label, as HTML. */
export function unlabelledControls(page, selector) {
  return page.evaluate((selector) =>
    [...document.querySelectorAll(selector)]
      .filter((element) => element.checkVisibility())
      .filter((element) => !element.labels?.length && !element.getAttribute("aria-label") && !element.textContent.trim())
      .map((element) => element.outerHTML),
    selector,
  );
}

/** Loads a model through the page's picker: a folder URL on the device. */
export async function loadFromUrl(page, url, device) {
  await page.selectOption("#preset", "url");
  await page.fill("#source", url);
  await page.selectOption("#device", device);
  await page.click("#load");
}

export const fixture = (file) => path.join(FIXTURES, file);
export const inputs = JSON.parse(readFileSync(fixture("golden/inputs.json"), "utf8"));

/** The f32 tensors of a safetensors file, each as rows of its last dimension. */
export function goldenRows(file) {
  const bytes = readFileSync(file);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString("utf8"));
  const tensors = {};
  const { __metadata__, ...entries } = header;
  for (const [name, { dtype, shape, data_offsets: [start, end] }] of Object.entries(entries)) {
    if (dtype !== "F32") continue;
    const data = bytes.subarray(8 + headerLength + start, 8 + headerLength + end);
    const values = new Float32Array(new Uint8Array(data).buffer);
    const width = shape.at(-1) ?? 1;
    tensors[name] = Array.from({ length: values.length / width }, (_, i) => values.subarray(i * width, (i + 1) * width));
  }
  return tensors;
}

export function maxAbsDiff(got, want) {
  assert.equal(got.length, want.length, "lengths differ");
  let max = 0;
  for (let i = 0; i < got.length; i++) max = Math.max(max, Math.abs(got[i] - want[i]));
  // NaN never compares: make it fail the tolerance check.
  return got.some(Number.isNaN) ? Infinity : max;
}

/** Asserts every row of `got` is within `tolerance` of `want`; reports the largest difference. */
export function assertRowsClose(t, what, got, want, tolerance) {
  assert.equal(got.length, want.length, `${what}: ${got.length} rows, want ${want.length}`);
  const diff = Math.max(...got.map((row, i) => maxAbsDiff(row, want[i])));
  t.diagnostic(`${what}: max abs diff ${diff.toExponential(2)} (tolerance ${tolerance})`);
  assert.ok(diff <= tolerance, `${what}: max abs diff ${diff} above ${tolerance}`);
  return diff;
}

export const isJpeg = (file) => /\.jpe?g$/.test(file);
