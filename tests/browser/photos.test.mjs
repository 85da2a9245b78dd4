// Photo collections: the Collection API against transformers' embeddings of
// the fixture images (scores are their cosines), kept across a reload without
// encoding again; and the Photos screen: add, search, label, CSV, teach.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import {
  JPEG_TOLERANCE,
  TEST_TIMEOUT,
  TOLERANCE,
  assertRowsClose,
  fixture,
  goldenRows,
  inputs,
  isJpeg,
  launch,
  loadFromUrl,
  openPage,
  screenshot,
  waitForText,
} from "./harness.mjs";

const MODEL = "tiny-quickgelu";
const golden = goldenRows(fixture(`golden/${MODEL}.safetensors`));
const dot = (a, b) => a.reduce((sum, v, i) => sum + v * b[i], 0);
const name = (file) => file.replace("images/", "");
/** The bound on a score: a cosine of two embeddings, each within the embedding bound. */
const tolerance = (file) => 2 * (isJpeg(file) ? JPEG_TOLERANCE : TOLERANCE);

let browser;
before(async () => (browser = await launch()));
after(() => browser?.close());

/**
 * Opens the collection "golden" of the fixture model in the page, with the
 * fixture images as Files: `window.fixture = { photos, model, files }`.
 */
function openCollection(page, device) {
  return page.evaluate(
    async ({ model, device, images }) => {
      const { ClipModel, Collection } = await import("./webclip.js");
      const clip = await ClipModel.load(`/fixtures/models/${model}`, { device });
      const files = await Promise.all(
        images.map(async (file) => new File([await (await fetch(`/fixtures/${file}`)).arrayBuffer()], file.replace("images/", ""), { lastModified: 1_700_000_000_000 })),
      );
      window.fixture = { photos: await Collection.open("golden", clip), model: clip, files, Collection };
    },
    { model: MODEL, device, images: inputs.images },
  );
}

test(`a collection's scores are transformers' cosines, and it survives a reload without encoding again (${MODEL}, WebGPU)`, { timeout: TEST_TIMEOUT }, async (t) => {
  const { page, problems } = await openPage(browser);
  await openCollection(page, "webgpu");
  const first = await page.evaluate(async () => {
    const { photos, model, files } = window.fixture;
    const before = photos.size;
    const progress = [];
    const added = await photos.add(files, { onProgress: ({ done, total }) => progress.push(`${done}/${total}`) });
    const again = await photos.add(files);
    const rows = await model.embedImages(files);
    const byText = await photos.search("a photo of a cat", { k: files.length });
    const byImage = await photos.search(files[0], { k: 3 });
    const labels = await photos.label(["cat", "dog", "rocket", "person", "coffee", "circle"], { template: "a photo of a {}" });
    const taught = await photos.teach({ round: ["chelsea.png", "logo.png"], square: ["shapes_wide.png", "palette.png"] });
    const { imagesEncoded } = await model.stats();
    return {
      before,
      added,
      again,
      progress,
      size: photos.size,
      rows: Array.from({ length: files.length }, (_, i) => Array.from(rows.slice(i * model.embedDim, (i + 1) * model.embedDim))),
      byText,
      byImage,
      labels: labels.map(({ name, label, probs }) => ({ name, label, probs: [...probs] })),
      taught: { accuracy: taught.accuracy, results: taught.results.map(({ name, label }) => ({ name, label })) },
      imagesEncoded,
    };
  });
  assert.equal(first.before, 0, "a fresh browser has no collection");
  assert.deepEqual(first.added, { encoded: 12, unchanged: 0, failures: [] });
  assert.deepEqual(first.again, { encoded: 0, unchanged: 12, failures: [] }, "adding the same files again encodes none");
  assert.deepEqual(first.progress, ["8/12", "12/12"]);
  assert.equal(first.size, 12);
  // 12 for the collection, 12 for embedImages, 1 for the query image.
  assert.equal(first.imagesEncoded, 25);

  const pick = (rows, jpeg) => rows.filter((_, i) => isJpeg(inputs.images[i]) === jpeg);
  for (const jpeg of [false, true]) {
    assertRowsClose(t, `embedImages ${jpeg ? "(JPEG)" : "(lossless)"}`, pick(first.rows, jpeg), pick(golden.image_embeds, jpeg), jpeg ? JPEG_TOLERANCE : TOLERANCE);
    const labelRows = inputs.images.map((file) => first.labels.find((row) => row.name === name(file)).probs);
    assertRowsClose(t, `label probabilities ${jpeg ? "(JPEG)" : "(lossless)"}`, pick(labelRows, jpeg), pick(golden.probs, jpeg), jpeg ? JPEG_TOLERANCE : TOLERANCE);
  }

  // Search by words: every image, best first, each score the golden cosine.
  const query = golden.text_embeds[inputs.texts.indexOf("a photo of a cat")];
  assert.equal(first.byText.length, 12);
  let worst = 0;
  for (const { name: image, score } of first.byText) {
    const file = inputs.images.find((f) => name(f) === image);
    const want = dot(golden.image_embeds[inputs.images.indexOf(file)], query);
    worst = Math.max(worst, Math.abs(score - want));
    assert.ok(Math.abs(score - want) <= tolerance(file), `${image}: score ${score}, golden cosine ${want}`);
  }
  t.diagnostic(`search scores: max abs diff from the golden cosines ${worst.toExponential(2)}`);
  const scores = first.byText.map(({ score }) => score);
  assert.deepEqual(scores, [...scores].sort((a, b) => b - a), "best first");
  assert.equal(first.byImage[0].name, "chelsea.png", "an image finds itself first");
  assert.ok(Math.abs(first.byImage[0].score - 1) < 1e-5, `self-similarity ${first.byImage[0].score}`);

  assert.equal(first.taught.results.length, 12);
  assert.ok(first.taught.accuracy >= 0 && first.taught.accuracy <= 1, `leave-one-out accuracy ${first.taught.accuracy}`);
  for (const example of ["chelsea.png", "logo.png"]) assert.equal(first.taught.results.find((r) => r.name === example).label, "round");
  for (const example of ["shapes_wide.png", "palette.png"]) assert.equal(first.taught.results.find((r) => r.name === example).label, "square");

  // A new visit: the collection is there, searched without encoding an image.
  await page.reload();
  await openCollection(page, "webgpu");
  const second = await page.evaluate(async () => {
    const { photos, model, Collection } = window.fixture;
    const size = photos.size;
    const examples = photos.examples;
    // What the collection's folder really holds, thumbnails included.
    const stored = async (dir) => {
      let bytes = 0;
      for await (const handle of dir.values()) bytes += handle.kind === "file" ? (await handle.getFile()).size : await stored(handle);
      return bytes;
    };
    const root = await (await navigator.storage.getDirectory()).getDirectoryHandle("webclip-collections");
    const folder = await (await root.getDirectoryHandle(model.fingerprint)).getDirectoryHandle("golden");
    const bytes = [photos.bytes, await stored(folder)];
    const byText = await photos.search("a photo of a cat", { k: 12 });
    const removed = await photos.remove(["rocket.jpg", "not-there.png"]);
    const { imagesEncoded } = await model.stats();
    const thumbnail = await photos.thumbnail("chelsea.png");
    await photos.clear();
    const reopened = await Collection.open("golden", model);
    const afterClear = [photos.size, reopened.size, reopened.bytes];
    // Cancelled after the first batch: what was encoded stays, and is kept.
    const stop = new AbortController();
    const cancelled = await reopened.add(window.fixture.files, { signal: stop.signal, onProgress: () => stop.abort() }).then(() => "finished", (error) => error.name);
    const kept = (await Collection.open("golden", model)).size;
    return { size, examples, bytes, byText, removed, imagesEncoded, thumbnailType: thumbnail?.type, afterClear, cancelled, kept };
  });
  assert.equal(second.size, 12, "the collection was kept");
  assert.ok(second.bytes[0] > 12 * 500, `${second.bytes[0]} bytes for 12 thumbnails and the index`);
  assert.equal(second.bytes[0], second.bytes[1], "the storage a collection reports is what its folder holds");
  assert.deepEqual(second.examples, { round: ["chelsea.png", "logo.png"], square: ["shapes_wide.png", "palette.png"] }, "taught classes were kept");
  assert.deepEqual(second.byText, first.byText, "the same scores after a reload");
  assert.equal(second.imagesEncoded, 0, "nothing was encoded again");
  assert.equal(second.removed, 1);
  assert.equal(second.thumbnailType, "image/jpeg");
  assert.deepEqual(second.afterClear, [0, 0, 0]);
  assert.equal(second.cancelled, "AbortError");
  assert.equal(second.kept, 8, "the first batch was kept when the rest was cancelled");
  assert.deepEqual(problems, [], "console errors");
  await page.context().close();
});

test("the Photos screen indexes, searches, labels to CSV and learns two classes; the index is there after a reload", { timeout: TEST_TIMEOUT }, async (t) => {
  const { page, problems } = await openPage(browser);
  await loadFromUrl(page, `/fixtures/models/${MODEL}`, "cpu");
  await waitForText(page, "#model-status", /^Ready/);
  await page.click("#tab-photos");
  await waitForText(page, "#photos-summary", /No photos indexed/);
  const images = inputs.images.map((file) => ({ name: name(file), mimeType: isJpeg(file) ? "image/jpeg" : "image/png", buffer: readFileSync(fixture(file)) }));
  const broken = { name: "broken.png", mimeType: "image/png", buffer: Buffer.from("not a png at all") };
  await page.setInputFiles("#photos-files", [...images, broken]);
  const summary = await waitForText(page, "#photos-status", /encoded in/);
  t.diagnostic(summary);
  assert.match(summary, /^12 photos encoded in .*1 could not be read\.$/);
  assert.match(await page.textContent("#photos-failures-list"), /^broken\.png: /);
  await waitForText(page, "#photos-summary", /^12 photos indexed with this model/);
  assert.equal(await page.locator("#photo-grid .card").count(), 12);

  await page.fill("#search-text", "a photo of a cat");
  await page.click("#search-run");
  await waitForText(page, "#photos-status", /sorted by/);
  const query = golden.text_embeds[inputs.texts.indexOf("a photo of a cat")];
  const best = inputs.images.map((file, i) => [name(file), dot(golden.image_embeds[i], query)]).sort((a, b) => b[1] - a[1])[0];
  assert.equal(await page.textContent("#photo-grid .card:first-child .name"), best[0], "the best match comes first");
  await screenshot(page, "photos-search");

  await page.fill("#label-labels", inputs.labels.join("\n"));
  await page.fill("#label-template", inputs.template);
  await page.click("#label-run");
  await waitForText(page, "#label-status", /labelled/);
  const download = page.waitForEvent("download");
  await page.click("#label-csv");
  const csv = readFileSync(await (await download).path(), "utf8").trim().split("\r\n").map((line) => line.split(","));
  assert.deepEqual(csv[0], ["file", "label", ...inputs.labels]);
  assert.equal(csv.length, 13);
  for (const [i, file] of inputs.images.entries()) {
    const row = csv.find(([cell]) => cell === name(file));
    const probs = row.slice(2).map(Number);
    const want = golden.probs[i];
    const diff = Math.max(...probs.map((p, j) => Math.abs(p - want[j])));
    assert.ok(diff <= (isJpeg(file) ? JPEG_TOLERANCE : TOLERANCE) + 1e-6, `${name(file)}: CSV probabilities ${probs}, golden ${[...want]}`);
    assert.equal(row[1], inputs.labels[want.indexOf(Math.max(...want))], `${name(file)}: top label`);
  }

  await page.fill("#teach-classes", "round\nsquare");
  for (const [image, cls] of [["chelsea.png", "round"], ["logo.png", "round"], ["shapes_wide.png", "square"], ["palette.png", "square"]]) {
    await page.selectOption(`select.mark[data-name="${image}"]`, cls);
  }
  await page.click("#teach-run");
  const taught = await waitForText(page, "#label-status", /Taught from 4 examples/);
  t.diagnostic(taught);
  assert.match(taught, /labelled 12 photos in \d+ ms\. On the examples, each left out in turn, it is right \d+% of the time\./);
  await screenshot(page, "photos-labels");
  await page.setViewportSize({ width: 390, height: 844 });
  await screenshot(page, "photos-phone");

  await page.reload();
  await loadFromUrl(page, `/fixtures/models/${MODEL}`, "cpu");
  await waitForText(page, "#photos-summary", /^12 photos indexed with this model/);
  assert.equal(await page.inputValue("#teach-classes"), "round\nsquare", "the taught classes come back");
  assert.equal(await page.inputValue('select.mark[data-name="logo.png"]'), "round");
  assert.deepEqual(problems, [], "console errors");
  await page.context().close();
});
