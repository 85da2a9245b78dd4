// Images from a camera: a snapshot joins the images to classify; without a
// camera the button falls back to the system's picker.

import assert from "node:assert/strict";
import { after, test } from "node:test";
import { TEST_TIMEOUT, fixture, launch, loadFromUrl, openPage, screenshot, waitForText } from "./harness.mjs";

const options = { timeout: TEST_TIMEOUT };
const browsers = [];
after(() => Promise.all(browsers.map((browser) => browser.close())));

test("without a camera, Take a photo says so and opens the picker instead", options, async () => {
  const browser = await launch();
  browsers.push(browser);
  const { page, problems } = await openPage(browser);
  const [chooser] = await Promise.all([page.waitForEvent("filechooser"), page.click("#camera-open")]);
  assert.equal(await chooser.element().getAttribute("id"), "camera-input");
  assert.match(await page.textContent("#classify-status"), /^No camera to use \(.+\): pick a photo instead\.$/);
  assert.ok(await page.isHidden("#camera"));
  await screenshot(page, "camera-missing");
  await chooser.setFiles(fixture("images/chelsea.png"));
  await waitForText(page, "#classify-status", /1 image ready/);
  assert.deepEqual(await page.locator("#queue li").allTextContents(), ["chelsea.png"]);
  assert.deepEqual(problems, []);
});

test("a camera snapshot joins the images and is classified", options, async () => {
  // Chromium's built-in test camera, allowed without asking.
  const browser = await launch(["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]);
  browsers.push(browser);
  const { page, problems } = await openPage(browser, { permissions: ["camera"] });
  await loadFromUrl(page, "/fixtures/models/tiny-quickgelu", "cpu");
  await waitForText(page, "#model-status", /Ready on the CPU/);
  await page.click("#camera-open");
  await page.locator("#camera").waitFor();
  await page.waitForFunction(() => document.getElementById("camera-video").videoWidth > 0);
  assert.equal(await page.evaluate(() => document.activeElement.id), "snap", "focus moves to the snap button");
  await page.click("#snap");
  await waitForText(page, "#classify-status", /1 image ready/);
  assert.deepEqual(await page.locator("#queue li").allTextContents(), ["photo-1.png"]);
  await screenshot(page, "camera-snapshot");
  await page.click("#camera-close");
  assert.ok(await page.isHidden("#camera"));
  // Prompts are shown as typed, never as markup.
  const prompts = ["a test pattern", "<b>a cat</b>"];
  await page.fill("#prompts", prompts.join("\n"));
  await page.click("#run");
  await waitForText(page, "#classify-status", /1 image classified/);
  assert.equal(await page.locator("#results h3").textContent(), "photo-1.png");
  assert.deepEqual((await page.locator("#results .bar .label").allTextContents()).sort(), prompts.sort());
  assert.equal(await page.locator("#results b").count(), 0);
  await screenshot(page, "camera-classified");
  assert.deepEqual(problems, []);
});
