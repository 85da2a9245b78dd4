// What goes wrong outside the model: downloads that break off or arrive short,
// a damaged cache entry, a GPU lost under a loaded model. Each ends in a named
// message or a correct model, and the page keeps working.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { TEST_TIMEOUT, fixture, launch, loadFromUrl, openPage, screenshot, waitForText } from "./harness.mjs";

const options = { timeout: TEST_TIMEOUT };
const MODEL = "/fixtures/models/tiny-quickgelu";
const WEIGHTS = "**/fixtures/models/tiny-quickgelu/model.safetensors";
const weights = readFileSync(fixture("models/tiny-quickgelu/model.safetensors"));
/** Where the test server cuts a broken response off (the browser may drop
 * the last bytes before the break, so a resume starts at or before it). */
const CUT = 2_000_000;

let browser;
before(async () => (browser = await launch()));
after(() => browser?.close());

/** Whether the page keeps the test model's weights in the Cache API. */
const weightsCached = (page) =>
  page.evaluate(async () =>
    (await (await caches.open("webclip-models")).keys()).some((r) => r.url.endsWith("/tiny-quickgelu/model.safetensors")),
  );

/** Classifies `image` (a fixture; a file input ignores the file it already holds). */
async function classifyOne(page, image = "chelsea.png") {
  await page.setInputFiles("#images", [fixture(`images/${image}`)]);
  await page.fill("#prompts", "a cat\na dog");
  await page.click("#run");
  return waitForText(page, "#classify-status", /classified|Could not/);
}

test("a download that breaks off resumes where it stopped", options, async () => {
  const { page } = await openPage(browser);
  const ranges = [];
  await page.context().route(WEIGHTS, (route) => {
    const range = route.request().headers().range;
    ranges.push(range ?? "whole");
    // The first answer breaks off; the resumed one is whole.
    return route.continue(range ? {} : { url: `${route.request().url()}?cut-after=${CUT}` });
  });
  await loadFromUrl(page, MODEL, "cpu");
  await waitForText(page, "#model-status", /^Ready on the CPU\.$/);
  assert.equal(ranges.length, 2, `${ranges}`);
  const resumedAt = Number(/^bytes=(\d+)-$/.exec(ranges[1])?.[1]);
  assert.ok(resumedAt > 0 && resumedAt <= CUT, `resumed at ${ranges[1]}, not from the start`);
  assert.match(await classifyOne(page), /^1 image classified/);
  assert.ok(await weightsCached(page), "the whole file is cached");
  await page.context().close();
});

test("a download that keeps breaking off is named, and nothing partial is cached", options, async () => {
  const { page, problems } = await openPage(browser);
  const ranges = [];
  await page.context().route(WEIGHTS, (route) => {
    ranges.push(route.request().headers().range ?? "whole");
    return route.continue({ url: `${route.request().url()}?cut-after=${CUT}` });
  });
  await loadFromUrl(page, MODEL, "cpu");
  const message = await waitForText(page, "#model-status", /Could not load/);
  assert.match(message, /the download of model\.safetensors broke off at \d+ of \d+ bytes and 3 attempts to resume it got no further; check the connection/);
  assert.ok(ranges.filter((range) => range.startsWith("bytes=")).length >= 3, `resumed with Range: ${ranges}`);
  assert.ok(!(await weightsCached(page)), "nothing partial is cached");
  await screenshot(page, "download-broke-off");

  // The page keeps working: with the network healthy again, the same model loads.
  await page.context().unroute(WEIGHTS);
  await page.click("#load");
  await waitForText(page, "#model-status", /^Ready on the CPU\.$/);
  assert.deepEqual(problems, []);
  await page.context().close();
});

test("weights shorter than their own header says are refused before use or caching", options, async () => {
  const { page } = await openPage(browser);
  // A server whose copy is cut short: its length header agrees with the short body.
  await page.context().route(WEIGHTS, (route) =>
    route.fulfill({ status: 200, contentType: "application/octet-stream", body: weights.subarray(0, weights.length - 1000) }),
  );
  await loadFromUrl(page, MODEL, "cpu");
  const message = await waitForText(page, "#model-status", /Could not load/);
  assert.equal(
    message,
    `Could not load the model: model.safetensors is incomplete: its header describes ${weights.length} bytes but ${weights.length - 1000} arrived; load it again`,
  );
  assert.ok(!(await weightsCached(page)), "nothing partial is cached");
  await page.context().close();
});

test("a damaged cache entry is dropped and downloaded again", options, async () => {
  const { page, requests } = await openPage(browser);
  await loadFromUrl(page, MODEL, "cpu");
  await waitForText(page, "#model-status", /^Ready on the CPU\.$/);
  // Storage damaged between visits: the entry holds a part of the file.
  await page.evaluate(async () => {
    const cache = await caches.open("webclip-models");
    const url = (await cache.keys()).map((r) => r.url).find((u) => u.endsWith("/tiny-quickgelu/model.safetensors"));
    const part = new Uint8Array(await (await cache.match(url)).arrayBuffer()).slice(0, 5000);
    await cache.put(url, new Response(part, { headers: { "x-webclip-length": "5000" } }));
  });
  const downloads = () => requests.filter((url) => url.endsWith("/tiny-quickgelu/model.safetensors")).length;
  const before = downloads();
  await page.click("#load");
  await waitForText(page, "#model-status", /^Ready on the CPU\.$/);
  assert.equal(downloads(), before + 1, "downloaded again");
  assert.match(await classifyOne(page), /^1 image classified/);
  await page.context().close();
});

test("a GPU lost under the model is named, and the page offers the CPU", options, async () => {
  const { page } = await openPage(browser);
  // Keep a handle on the worker's WebGPU devices, as a test can, to destroy them.
  page.on("worker", (worker) =>
    worker.evaluate(() => {
      const request = GPUAdapter.prototype.requestDevice;
      GPUAdapter.prototype.requestDevice = async function (...args) {
        const device = await request.apply(this, args);
        (globalThis.devices ??= []).push(device);
        return device;
      };
    }),
  );
  await loadFromUrl(page, MODEL, "webgpu");
  await waitForText(page, "#model-status", /^Ready on WebGPU\.$/);
  assert.match(await classifyOne(page), /^1 image classified/);

  const [worker] = page.workers();
  assert.equal(await worker.evaluate(() => globalThis.devices.length), 1, "the model's device was seen");
  await worker.evaluate(() => globalThis.devices.forEach((device) => device.destroy()));
  const failed = await classifyOne(page, "la.png");
  assert.match(failed, /Could not classify la\.png: device: the GPU/);
  const status = await waitForText(page, "#model-status", /Load on the CPU/);
  assert.match(status, /^The GPU device was lost \(.+\), so its results cannot be trusted; load the model on the CPU\. Load on the CPU$/);
  await screenshot(page, "gpu-lost");
  await page.setViewportSize({ width: 390, height: 844 });
  await page.locator("#model-status").scrollIntoViewIfNeeded();
  await screenshot(page, "gpu-lost-phone", { fullPage: false });
  await page.setViewportSize({ width: 1000, height: 800 });

  await page.click("#model-status button");
  await waitForText(page, "#model-status", /^Ready on the CPU\.$/);
  assert.match(await classifyOne(page, "palette.png"), /^1 image classified/);
  await page.context().close();
});
