// The Draw screen (www/game.js): the scoring rules on their own, then the
// game as a person plays it with the bundled sketch model (www/models/sketch):
// mouse strokes on the canvas, the live guesses, undo and clear, submitting
// to the leaderboard, a reload, a round.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { TEST_TIMEOUT, launch, loadFromUrl, openPage, screenshot, unlabelledControls, waitForText } from "./harness.mjs";
import { CANDIDATES, DRAWING_TEMPLATE, contest, distractors, judge } from "../../www/judge.js";
import { SHAPES, placed } from "./shapes.mjs";

const pools = JSON.parse(readFileSync(new URL("../../www/prompts.json", import.meta.url), "utf8"));
const SKETCH = pools.sketch.prompts;
const options = { timeout: TEST_TIMEOUT };
/** The game's own code is the same on either device (api.test.mjs covers both), and
 * SwiftShader's WebGPU takes ~40 s for the 20 prompts that the CPU encodes at once. */
const DEVICE = "cpu";

describe("the scoring rules (judge.js)", () => {
  test("the prompt pools: the sketch model's 20 categories, and at least 100 silly prompts", () => {
    assert.equal(SKETCH.length, 20);
    assert.equal(SKETCH[0], "a circle");
    assert.ok(pools.silly.prompts.length >= 100, `${pools.silly.prompts.length} silly prompts`);
    assert.equal(new Set(pools.silly.prompts).size, pools.silly.prompts.length, "no repeated prompts");
  });

  test("a prompt's distractors are the rest of a small pool, and a fixed sample of a large one", () => {
    assert.deepEqual(distractors("a star", SKETCH).sort(), SKETCH.filter((p) => p !== "a star").sort());
    const silly = pools.silly.prompts;
    const some = distractors(silly[7], silly);
    assert.equal(some.length, CANDIDATES - 1);
    assert.ok(!some.includes(silly[7]) && new Set(some).size === some.length);
    assert.deepEqual(distractors(silly[7], silly), some, "the same for every player");
    assert.notDeepEqual(distractors(silly[8], silly), some, "another prompt, another field");
  });

  test("sentences: the drawing template for every candidate, the writing ones only for models that read", () => {
    const plain = contest("a star", SKETCH, { readsText: false });
    assert.equal(plain.labels[0], "a star");
    assert.deepEqual(plain.sentences, plain.labels.map((label) => DRAWING_TEMPLATE.replace("{}", label)));
    assert.equal(plain.sentences[0], "a drawing of a star", "the sketch model's own caption");
    const reading = contest("a star", SKETCH, { readsText: true });
    assert.equal(reading.sentences.length, CANDIDATES + 2);
    assert.match(reading.sentences.at(-2), /written words "a star"/);
  });

  test("score, rank and the writing penalty from the probabilities", () => {
    const c = { labels: ["a star", "a moon", "a sun"] };
    // The drawing sentences alone: star 0.6, moon 0.3, sun 0.1 once renormalised.
    const drawn = judge(c, Float32Array.from([0.3, 0.15, 0.05, 0.5 * 1e-4, 0]));
    assert.equal(drawn.rank, 1);
    assert.equal(drawn.of, 3);
    assert.ok(Math.abs(drawn.likeness - 0.6) < 1e-6);
    assert.equal(drawn.score, 60, "a drawing that does not read as words loses nothing that shows");
    assert.ok(!drawn.flagged);
    assert.deepEqual(drawn.guesses.map((g) => g.label), ["a star", "a moon", "a sun"]);

    const written = judge(c, Float32Array.from([0.06, 0.03, 0.01, 0.9, 0]));
    assert.ok(written.flagged, "the written prompt is flagged");
    assert.ok(Math.abs(written.writing - 0.9 / 0.96) < 1e-6);
    assert.equal(written.score, 4, "and loses nearly all its score");

    const beaten = judge(c, Float32Array.from([0.2, 0.5, 0.3]));
    assert.equal(beaten.rank, 3);
    assert.equal(beaten.guesses[0].label, "a moon");
  });
});

// ---- In the browser ----

/** Canvas pixels (0..512) to points in the viewport, where the mouse is. */
async function toPage(page, points) {
  await page.locator("#sketch").scrollIntoViewIfNeeded();
  const box = await page.locator("#sketch").boundingBox();
  const size = await page.locator("#sketch").evaluate((canvas) => canvas.width);
  return points.map(([x, y]) => [box.x + (x * box.width) / size, box.y + (y * box.height) / size]);
}

/** Mouse strokes, one through each list of points (canvas pixels), one right after the other. */
async function strokes(page, paths) {
  const onPage = [];
  for (const points of paths) onPage.push(await toPage(page, points));
  for (const [first, ...rest] of onPage) {
    await page.mouse.move(...first);
    await page.mouse.down();
    for (const point of rest) await page.mouse.move(...point, { steps: 2 });
    await page.mouse.up();
  }
}
const stroke = (page, points) => strokes(page, [points]);

const around = (n, radius, [cx, cy] = [256, 256], turn = 0) =>
  Array.from({ length: n + 1 }, (_, i) => {
    const angle = turn + (2 * Math.PI * i) / n;
    return [cx + radius(i) * Math.cos(angle), cy + radius(i) * Math.sin(angle)];
  });
const CIRCLE = around(48, () => 160);
/** A five-pointed star as one stroke, point up. */
const STAR = around(10, (i) => (i % 2 ? 75 : 190), [256, 270], -Math.PI / 2);

/** Pixels that are not paper. */
const inkPixels = (page) =>
  page.locator("#sketch").evaluate((canvas) => {
    const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
    let ink = 0;
    for (let i = 0; i < data.length; i += 4) if (data[i] + data[i + 1] + data[i + 2] < 600) ink++;
    return ink;
  });

/** Types `prompt` as the player's own, which judges it against the rest of the current pool. */
async function drawPrompt(page, prompt) {
  await page.fill("#own-prompt", prompt);
  await page.click("#own-form button[type=submit]");
  assert.equal(await page.textContent("#prompt"), prompt);
}

/** Waits for the live score of the drawing as it is now; returns the guesses, most likely first. */
async function liveGuesses(page) {
  await page.waitForFunction(() => window.__classify.finished >= 1 && window.__classify.running === 0 && /^\d+$/.test(document.getElementById("live-score").textContent));
  return page.locator("#guesses li").evaluateAll((items) => items.map((item) => item.dataset.label));
}

/**
 * The guesses once the drawing as it is now, its last stroke just ended, has
 * been scored: the live score always calls the model once more after the last
 * stroke, so this waits for a classify call that starts from now on, and for
 * none to be running.
 */
async function guessesAfterLastStroke(page) {
  const started = await page.evaluate(() => window.__classify.started);
  await page.waitForFunction((started) => window.__classify.started > started && window.__classify.running === 0, started);
  return page.locator("#guesses li").evaluateAll((items) => items.map((item) => item.dataset.label));
}

/**
 * Counts the page's classify calls to its worker and the most ever in
 * flight, so that a test can see the live score debounce and never overlap.
 */
function countClassifyCalls() {
  const Native = window.Worker;
  const calls = (window.__classify = { started: 0, finished: 0, running: 0, most: 0 });
  window.Worker = class extends Native {
    #open = new Set();
    constructor(...args) {
      super(...args);
      this.addEventListener("message", ({ data }) => {
        if (data.progress || !this.#open.delete(data.id)) return;
        calls.running--;
        calls.finished++;
      });
    }
    postMessage(message, ...rest) {
      if (message?.op === "classify") {
        this.#open.add(message.id);
        calls.started++;
        calls.most = Math.max(calls.most, ++calls.running);
      }
      super.postMessage(message, ...rest);
    }
  };
}

describe("the Draw screen with the bundled sketch model", () => {
  let browser, page, problems;
  before(async () => {
    browser = await launch();
    ({ page, problems } = await openPage(browser));
    await page.addInitScript(countClassifyCalls);
    await page.reload();
    page.on("dialog", (dialog) => dialog.accept());
  });
  after(() => browser?.close());

  test("the Draw tab opens the game; every control has a label", options, async () => {
    await page.click("#tab-game");
    assert.ok(await page.isVisible("#sketch"));
    assert.ok(await page.isHidden("#classify"));
    assert.match(page.url(), /#game$/);
    const unlabelled = await unlabelledControls(page, "#game input, #game select, #game button, #game canvas");
    assert.deepEqual(unlabelled, []);
    await loadFromUrl(page, "models/sketch", DEVICE);
    await waitForText(page, "#model-status", /Ready/);
    await waitForText(page, "#game-status", /bundled sketch model/);
    assert.equal(await page.inputValue("#pool"), "sketch", "the sketch model plays its own 20 shapes");
  });

  test("a circle drawn with the mouse: the model's top guess is circle, scored live", options, async (t) => {
    await drawPrompt(page, "a circle");
    assert.equal(await page.textContent("#live-score"), "–");
    await stroke(page, CIRCLE);
    const guesses = await liveGuesses(page);
    t.diagnostic(`guesses: ${guesses.join(", ")}; score ${await page.textContent("#live-score")}`);
    assert.equal(guesses[0], "a circle");
    assert.match(await page.textContent("#live-rank"), /^#1 of 20$/);
    await screenshot(page, "game-circle");
  });

  test("a star: the top guess is star; strokes in quick succession are scored once, never two at a time", options, async (t) => {
    await drawPrompt(page, "a star");
    const before = await page.evaluate(() => window.__classify.finished);
    // The star in five quick strokes: one live score after the last.
    await strokes(page, [0, 2, 4, 6, 8].map((i) => STAR.slice(i, i + 3)));
    const guesses = await liveGuesses(page);
    const calls = await page.evaluate(() => window.__classify);
    t.diagnostic(`guesses: ${guesses.join(", ")}; classify calls ${JSON.stringify(calls)}`);
    assert.equal(guesses[0], "a star");
    assert.equal(calls.finished - before, 1, "one live score for five quick strokes");
    assert.equal(calls.most, 1, "never two model calls at a time");
    await screenshot(page, "game-star");
  });

  test("undo, clear and the eraser change the canvas's pixels as they should", options, async () => {
    await page.click("#new-prompt");
    assert.equal(await inkPixels(page), 0, "a new prompt starts on a blank sheet");
    assert.ok(await page.isDisabled("#undo"));
    await stroke(page, [[100, 100], [400, 100]]);
    const one = await inkPixels(page);
    assert.ok(one > 1000, `one stroke: ${one} ink pixels`);
    await page.click('#brushes input[value="26"]');
    await page.click('#colors input[value="#cd2024"]');
    await stroke(page, [[100, 300], [400, 300]]);
    const two = await inkPixels(page);
    assert.ok(two > 2 * one, `a wider second stroke: ${two} ink pixels`);
    await page.click("#undo");
    assert.equal(await inkPixels(page), one, "undo removes the last stroke");
    await page.keyboard.press("Control+z");
    assert.equal(await inkPixels(page), 0, "so does Ctrl+Z");
    await stroke(page, [[100, 100], [400, 100]]);
    const wide = await inkPixels(page);
    await page.click("#clear");
    assert.equal(await inkPixels(page), 0, "clear empties the sheet");
    await page.click("#undo");
    assert.equal(await inkPixels(page), wide, "and undo brings it back");
    await page.check('#tools input[value="eraser"]');
    await stroke(page, [[250, 60], [250, 140]]);
    const erased = await inkPixels(page);
    assert.ok(erased < wide && erased > wide / 2, `the eraser takes a bite: ${wide} -> ${erased}`);
    await page.check("#tool-pen");
  });

  test("submitting adds a leaderboard entry that survives a reload; drawings export as PNG", options, async () => {
    await drawPrompt(page, "a circle");
    await page.click('#brushes input[value="14"]');
    await page.click('#colors input[value="#1c1c20"]');
    await stroke(page, CIRCLE);
    await page.fill("#player", "Ada");
    await page.click("#submit");
    const final = await waitForText(page, "#final", /Saved/);
    assert.match(final, /Score \d+ \/ 100/);
    assert.match(final, /ranks #\d+ of 20/);
    assert.match(final, /Saved as Ada: place 1 of 1/);
    assert.ok(await page.isDisabled("#submit"), "one drawing is submitted once");
    assert.equal(await page.locator("#board li").count(), 1);
    assert.match(await page.textContent("#board li"), /Ada/);
    await screenshot(page, "game-submitted");

    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#save-png")]);
    assert.equal(download.suggestedFilename(), "a-circle.png");
    const png = readFileSync(await download.path());
    assert.deepEqual([...png.subarray(1, 4)], [...Buffer.from("PNG")]);
    assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [512, 512], "the canvas's own size");

    await page.reload();
    assert.ok(await page.isVisible("#sketch"), "the Draw screen stays open after a reload (#game)");
    await loadFromUrl(page, "models/sketch", DEVICE);
    await waitForText(page, "#game-status", /bundled sketch model/);
    await drawPrompt(page, "a circle");
    await page.locator("#board li").first().waitFor();
    const entry = await page.textContent("#board li");
    assert.match(entry, /Ada/);
    assert.equal(await page.inputValue("#player"), "Ada", "the name is remembered");
    const thumbnail = await page.locator("#board li img").evaluate((img) => img.complete && img.naturalWidth);
    assert.equal(thumbnail, 96, "the thumbnail shows");

    await page.click("#board-clear");
    await page.locator("#board-empty").waitFor();
    assert.equal(await page.locator("#board li").count(), 0, "the leaderboard clears");
  });

  test("a round: the next prompt comes once the model guesses the drawing", options, async (t) => {
    await page.click("#round-start");
    assert.ok(await page.isVisible("#round"));
    assert.ok(await page.isDisabled("#submit"), "no submitting during a round");
    // Skip to a prompt this test knows how to draw.
    let prompt = await page.textContent("#prompt");
    for (let skips = 0; !["a circle", "a star"].includes(prompt); skips++) {
      assert.ok(skips < 20, "the round visits every shape");
      await page.click("#round-skip");
      prompt = await page.textContent("#prompt");
    }
    await stroke(page, prompt === "a circle" ? CIRCLE : STAR);
    await waitForText(page, "#round-tally", /^1 drawn$/);
    assert.notEqual(await page.textContent("#prompt"), prompt, "on to the next prompt");
    assert.equal(await inkPixels(page), 0, "on a blank sheet");
    await screenshot(page, "game-round");
    await page.click("#round-stop");
    const summary = await waitForText(page, "#final", /Round over/);
    t.diagnostic(summary);
    assert.match(summary, new RegExp(`Guessed: ${prompt}\\.`));
    assert.ok(await page.isHidden("#round"));
  });

  test("all 20 shapes drawn with the mouse, with each brush, centred and in a corner: the top guess names each", { timeout: 30 * 60_000 }, async (t) => {
    const misses = [];
    let drawn = 0;
    const brushes = await page.locator("#brushes input").evaluateAll((inputs) => inputs.map((input) => [input.labels[0].textContent.trim(), input.value]));
    assert.equal(brushes.length, 3);
    for (const [brush, width] of brushes) {
      await page.click(`#brushes input[value="${width}"]`);
      for (const [where, centre, radius] of [
        ["centred", [256, 256], 170],
        ["in a corner", [130, 130], 95],
      ]) {
        for (const shape of Object.keys(SHAPES)) {
          await drawPrompt(page, shape);
          if (await page.isEnabled("#clear")) await page.click("#clear");
          await strokes(page, placed(shape, centre, radius));
          const [top] = await guessesAfterLastStroke(page);
          drawn++;
          if (top !== shape) misses.push(`${shape} (${brush} brush, ${where}) read as ${top}`);
        }
      }
      await screenshot(page, `game-shapes-${brush.toLowerCase()}`);
    }
    t.diagnostic(`${drawn - misses.length} of ${drawn} recognized${misses.length ? `; missed: ${misses.join("; ")}` : ""}`);
    assert.equal(drawn, 120);
    // Every one is the goal, and the bundled model reads all 120. Page,
    // model and strokes are deterministic; the one of margin is for a
    // browser's float order.
    assert.ok(drawn - misses.length >= 119, `only ${drawn - misses.length} of ${drawn}`);
  });

  test("fits a phone-sized screen (390×844), the canvas across it", options, async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await drawPrompt(page, "a star");
    await stroke(page, STAR);
    await liveGuesses(page);
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 390, `the page is ${width} px wide`);
    const canvas = await page.locator("#sketch").boundingBox();
    assert.ok(canvas.width > 300, `the canvas is ${canvas.width} px wide`);
    await page.locator("#prompt-line").scrollIntoViewIfNeeded();
    await screenshot(page, "game-phone", { fullPage: false });
    await page.setViewportSize({ width: 1000, height: 800 });
    assert.deepEqual(problems, [], "console errors");
  });
});
