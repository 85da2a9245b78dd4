// Weights from the person's own disk (a dropped or picked folder), and the
// messages when weights cannot be had.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { TEST_TIMEOUT, fixture, launch, openPage, screenshot, waitForText } from "./harness.mjs";

const MODEL_DIR = fixture("models/tiny-quickgelu");
const options = { timeout: TEST_TIMEOUT };

let browser;
before(async () => (browser = await launch()));
after(() => browser?.close());

/** Drops a folder of this machine on `selector`, as a file manager does. */
async function dropFolder(page, selector, folder) {
  const box = await page.locator(selector).boundingBox();
  const cdp = await page.context().newCDPSession(page);
  const at = { x: box.x + box.width / 2, y: box.y + box.height / 2 };
  const data = { items: [], files: [folder], dragOperationsMask: 1 };
  for (const type of ["dragEnter", "dragOver", "drop"]) await cdp.send("Input.dispatchDragEvent", { type, ...at, data });
}

test("loads a model folder dropped on the page, without downloading it", options, async () => {
  const { page, requests, problems } = await openPage(browser);
  await page.selectOption("#device", "cpu");
  await dropFolder(page, "#local", MODEL_DIR);
  await waitForText(page, "#model-status", /Ready on the CPU/);
  assert.ok(!requests.some((url) => url.includes("/fixtures/")), "nothing fetched from the server");
  await screenshot(page, "local-folder-dropped");
  assert.deepEqual(problems, []);
  await page.context().close();
});

test("loads a model folder picked with the folder picker", options, async () => {
  const { page, problems } = await openPage(browser);
  await page.selectOption("#device", "cpu");
  await page.setInputFiles("#folder", MODEL_DIR);
  await waitForText(page, "#model-status", /Ready on the CPU/);
  assert.deepEqual(problems, []);
  await page.context().close();
});

test("a folder without a model says which file is missing", options, async () => {
  const { page } = await openPage(browser);
  await dropFolder(page, "#local", fixture("images"));
  const message = await waitForText(page, "#model-status", /missing/);
  assert.equal(message, "Could not load the model: config.json is missing from the chosen files");
  await screenshot(page, "local-folder-without-model");
  await page.context().close();
});

test("an unreachable hub gives a clear message", options, async () => {
  const { page } = await openPage(browser);
  // Offline or not, the hub is cut off here.
  await page.context().route("https://huggingface.co/**", (route) => route.abort("internetdisconnected"));
  await page.selectOption("#preset", "https://huggingface.co/openai/clip-vit-base-patch32/resolve/refs%2Fpr%2F15");
  await page.click("#load");
  const message = await waitForText(page, "#model-status", /Could not load/);
  assert.match(message, /could not reach huggingface\.co to download config\.json; check the connection or load local files/);
  assert.ok(await page.isDisabled("#run"));
  await screenshot(page, "hub-unreachable");
  await page.context().close();
});

test("a missing model folder on the server names the URL and the status", options, async () => {
  const { page } = await openPage(browser);
  await page.selectOption("#preset", "url");
  await page.fill("#source", "/fixtures/models/no-such-model");
  await page.click("#load");
  const message = await waitForText(page, "#model-status", /Could not load/);
  assert.match(message, /\/fixtures\/models\/no-such-model\/config\.json answered 404/);
  await page.context().close();
});
