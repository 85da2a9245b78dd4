// The page as a person uses it, on WebGPU: load the fixture model through the
// model picker, upload images, type prompts, read the bars. One page through
// all the steps, in order.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import {
  BASE_URL,
  TEST_TIMEOUT,
  TOLERANCE,
  fixture,
  goldenRows,
  inputs,
  launch,
  loadFromUrl,
  openPage,
  screenshot,
  unlabelledControls,
  waitForText,
} from "./harness.mjs";

const MODEL = "tiny-quickgelu";
const golden = goldenRows(fixture(`golden/${MODEL}.safetensors`));
/** Shown percentages have one decimal: half of 0.1 for the rounding, plus the API's tolerance. */
const SHOWN_TOLERANCE = 0.05 + 100 * TOLERANCE;
const options = { timeout: TEST_TIMEOUT };

/** The bars of the newest result for `file`, top to bottom. */
async function bars(page, file) {
  const result = page.locator("#results > li").filter({ has: page.getByRole("heading", { name: file, exact: true }) });
  return result.first().locator(".bar").evaluateAll((rows) =>
    rows.map((row) => ({
      label: row.querySelector(".label").textContent,
      shown: row.querySelector("output").textContent,
      width: parseFloat(row.querySelector(".fill").style.width),
      top: row.classList.contains("top"),
    })),
  );
}

/** Checks the bars of `file` against transformers' probabilities for the golden labels. */
async function assertBarsMatchGolden(t, page, file) {
  const want = golden.probs[inputs.images.indexOf(`images/${file}`)];
  const rows = await bars(page, file);
  assert.deepEqual(rows.map((r) => r.label).sort(), [...inputs.labels].sort(), `${file}: one bar per prompt`);
  let maxDiff = 0;
  for (const row of rows) {
    assert.match(row.shown, /^\d+\.\d%$/, `${file}: ${row.label} shown as a percentage with one decimal`);
    const expected = 100 * want[inputs.labels.indexOf(row.label)];
    const diff = Math.abs(parseFloat(row.shown) - expected);
    maxDiff = Math.max(maxDiff, diff);
    assert.ok(diff <= SHOWN_TOLERANCE, `${file}: ${row.label} shows ${row.shown}, transformers ${expected.toFixed(4)}%`);
    assert.ok(Math.abs(row.width - expected) <= SHOWN_TOLERANCE, `${file}: ${row.label}'s bar is ${row.width}% wide`);
  }
  t.diagnostic(`${file}: shown percentages differ from transformers by at most ${maxDiff.toFixed(3)} (tolerance ${SHOWN_TOLERANCE.toFixed(2)})`);
  const shown = rows.map((r) => parseFloat(r.shown));
  assert.deepEqual(shown, [...shown].sort((a, b) => b - a), `${file}: bars sorted, most likely first`);
  assert.deepEqual(
    rows.map((r) => r.top),
    rows.map((_, i) => i === 0),
    `${file}: only the first bar highlighted`,
  );
  const best = inputs.labels[want.indexOf(Math.max(...want))];
  assert.equal(rows[0].label, best, `${file}: transformers' most likely label on top`);
}

async function classifyFiles(page, files) {
  await page.setInputFiles("#images", files);
  await page.click("#run");
  await waitForText(page, "#classify-status", /classified/);
}

describe("the page", () => {
  let browser, page, requests, problems;
  before(async () => {
    browser = await launch();
    ({ page, requests, problems } = await openPage(browser));
  });
  after(() => browser?.close());

  test("every control has a label", options, async () => {
    await screenshot(page, "01-start");
    const unlabelled = await unlabelledControls(page, "input, select, textarea, button, progress");
    assert.deepEqual(unlabelled, []);
  });

  test("has a Content-Security-Policy without unsafe-eval", options, async () => {
    const policy = await page.getAttribute('meta[http-equiv="Content-Security-Policy"]', "content");
    assert.match(policy, /script-src 'self' 'wasm-unsafe-eval';/);
    assert.doesNotMatch(policy, /'unsafe-eval'|'unsafe-inline'/);
  });

  test("opens with the bundled sketch model, from its own site", options, async () => {
    assert.equal(await page.inputValue("#preset"), "models/sketch");
    await waitForText(page, "#model-status", /Ready on/);
    const weights = requests.filter((url) => url.endsWith("/models/sketch/model.safetensors"));
    assert.equal(weights.length, 1, "the bundled weights are fetched once");
    assert.ok(weights[0].startsWith(new URL(BASE_URL).origin), weights[0]);
    // Classify offers what the sketch model knows: its 20 shapes, drawn.
    assert.equal((await page.inputValue("#prompts")).split("\n").length, 20);
    assert.match(await page.inputValue("#prompts"), /^a circle\na square\n/);
    assert.equal(await page.inputValue("#template"), "a drawing of {}");
    assert.ok(await page.isChecked("#frame-ink"), "the sketch model looks at the drawn part of the sheet");
    await screenshot(page, "01b-bundled-model");
  });

  test("each example drawing classifies with one click, as what it shows", options, async (t) => {
    const examples = page.locator("#examples button.example");
    assert.equal(await examples.count(), 4);
    for (let i = 0; i < 4; i++) {
      const shown = (await examples.nth(i).getAttribute("title")).replace("a drawing of ", "");
      const file = `${shown.replace(/^an? /, "")}.png`;
      await examples.nth(i).click();
      await page.locator("#results h3").filter({ hasText: file }).waitFor();
      const rows = await bars(page, file);
      t.diagnostic(`${file}: ${rows.slice(0, 3).map((r) => `${r.label} ${r.shown}`).join(", ")}`);
      assert.equal(rows[0].label, shown, `${file}: the top bar names it`);
    }
    await screenshot(page, "01c-examples");
  });

  test("auto passes a software fallback adapter by and says so", options, async () => {
    const fallback = await page.evaluate(async () => (await navigator.gpu.requestAdapter())?.info.isFallbackAdapter);
    await loadFromUrl(page, "/fixtures/models/tiny-quickgelu", "auto");
    const expected = fallback
      ? /^Ready on the CPU \(this browser's WebGPU adapter is a software fallback, slower than the CPU\)\.$/
      : /^Ready on WebGPU\.$/;
    await waitForText(page, "#model-status", expected);
  });

  test("loads the fixture model through the model picker, on WebGPU when asked", options, async () => {
    await loadFromUrl(page, "/fixtures/models/tiny-quickgelu", "webgpu");
    await waitForText(page, "#model-status", /Ready on WebGPU/);
    assert.ok(await page.isEnabled("#run"));
    // CLIP weights get the page's own prompts back.
    assert.match(await page.inputValue("#prompts"), /^a girl wearing a beanie\n/);
    assert.equal(await page.inputValue("#template"), "{}");
    assert.ok(!(await page.isChecked("#frame-ink")), "photos are not cropped to their dark parts");
    await screenshot(page, "02-model-loaded");
  });

  test("classifies uploaded images as transformers does: bars sorted, top highlighted, times shown", options, async (t) => {
    const files = ["chelsea.png", "la.png", "shapes.webp"];
    await page.setInputFiles("#images", files.map((f) => fixture(`images/${f}`)));
    await waitForText(page, "#classify-status", /3 images ready/);
    assert.deepEqual(await page.locator("#queue li").allTextContents(), files);
    await page.fill("#prompts", inputs.labels.join("\n"));
    await page.fill("#template", inputs.template);
    await screenshot(page, "03-images-added");
    await page.click("#run");
    const summary = await waitForText(page, "#classify-status", /classified/);
    assert.match(summary, /^3 images classified; 6 prompts encoded in \d+ ms\.$/);
    assert.equal(await page.locator("#queue li").count(), 0, "the queue empties");
    for (const file of files) await assertBarsMatchGolden(t, page, file);
    for (const file of files) {
      const result = page.locator("#results > li").filter({ has: page.getByRole("heading", { name: file, exact: true }) });
      assert.match(await result.locator(".meta").textContent(), /^image \d+ ms · prompt batch \d+ ms · on WebGPU$/);
    }
    await screenshot(page, "04-results");
  });

  test("a corrupt image shows an error, and the page keeps working", options, async (t) => {
    const before = await page.locator("#results > li").count();
    await page.setInputFiles("#images", [
      { name: "corrupt.png", mimeType: "image/png", buffer: Buffer.from("this is not a PNG file") },
      { name: "palette.png", mimeType: "image/png", buffer: readFileSync(fixture("images/palette.png")) },
    ]);
    await page.click("#run");
    const message = await waitForText(page, "#classify-status", /corrupt\.png/);
    t.diagnostic(`shown: ${message}`);
    assert.match(message, /Could not classify corrupt\.png: .*not a recognised image format/);
    assert.match(message, /1 image classified/, "the valid image of the batch still classified");
    assert.ok(await page.locator("#classify-status").evaluate((e) => e.classList.contains("error")));
    await screenshot(page, "05-corrupt-image");
    assert.equal(await page.locator("#results > li").count(), before + 1);
    await assertBarsMatchGolden(t, page, "palette.png");

    await classifyFiles(page, [fixture("images/camera.png")]);
    assert.ok(!(await page.locator("#classify-status").evaluate((e) => e.classList.contains("error"))));
    await assertBarsMatchGolden(t, page, "camera.png");
  });

  test("an empty prompt list shows an error, and the page keeps working", options, async (t) => {
    await page.setInputFiles("#images", [fixture("images/logo.png")]);
    await page.fill("#prompts", "  \n\n \n");
    await page.click("#run");
    const message = await waitForText(page, "#classify-status", /prompt/);
    assert.equal(message, "Type at least one prompt, one per line.");
    assert.ok(await page.locator("#classify-status").evaluate((e) => e.classList.contains("error")));
    assert.deepEqual(await page.locator("#queue li").allTextContents(), ["logo.png"], "the image stays queued");
    await screenshot(page, "06-empty-prompts");

    await page.fill("#prompts", inputs.labels.join("\n"));
    await page.click("#run");
    await waitForText(page, "#classify-status", /1 image classified/);
    await assertBarsMatchGolden(t, page, "logo.png");
  });

  test("is keyboard operable, with a visible focus", options, async (t) => {
    await page.setInputFiles("#images", [fixture("images/rgba_alpha.png")]);
    await page.focus("#template");
    const focused = () =>
      page.evaluate(() => {
        const element = document.activeElement;
        const style = getComputedStyle(element);
        return { id: element.id, outline: `${style.outlineStyle} ${style.outlineWidth}` };
      });
    await page.keyboard.press("Tab");
    assert.deepEqual(await focused(), { id: "frame-ink", outline: "solid 3px" }, "Tab from the template reaches the drawings option, outlined");
    await page.keyboard.press("Tab");
    assert.deepEqual(await focused(), { id: "run", outline: "solid 3px" }, "and then Classify, outlined");
    await screenshot(page, "07-keyboard-focus");
    await page.keyboard.press("Enter");
    await waitForText(page, "#classify-status", /1 image classified/);
    await assertBarsMatchGolden(t, page, "rgba_alpha.png");
  });

  test("fits a phone-sized screen (390×844)", options, async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 390, `the page is ${width} px wide`);
    await page.evaluate(() => window.scrollTo(0, 0));
    await screenshot(page, "08-phone-top", { fullPage: false });
    await page.evaluate(() => document.getElementById("run").scrollIntoView());
    await screenshot(page, "09-phone-results", { fullPage: false });
    await page.setViewportSize({ width: 1000, height: 800 });
  });

  test("asks only its own origin for anything, its worker included", options, async (t) => {
    const origin = new URL(BASE_URL).origin;
    // data: URLs (the empty favicon) never reach a network.
    const foreign = requests.filter((url) => !url.startsWith("data:") && new URL(url).origin !== origin);
    const shortly = (url) => (url.startsWith("blob:") ? "blob:…" : new URL(url).pathname);
    t.diagnostic(`${requests.length} requests: ${[...new Set(requests.map(shortly))].join(" ")}`);
    assert.deepEqual(foreign, []);
    assert.ok(
      requests.some((url) => url.endsWith("/pkg/webclip_wasm_bg.wasm")) && requests.some((url) => url.endsWith("/model.safetensors")),
      "the worker's requests are recorded too",
    );
    assert.deepEqual(problems, [], "console errors");
  });
});
