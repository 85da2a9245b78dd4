// The JavaScript API (webclip.js) against transformers' outputs for the tiny
// fixture model: text and image embeddings and zero-shot probabilities, on
// WebGPU and on the CPU.

import assert from "node:assert/strict";
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
  openPage,
} from "./harness.mjs";

const MODEL = "tiny-quickgelu";
// The bound tests/golden.rs states for the f16 path (f16 weights and tiles).
const F16_TOLERANCE = 1e-3;
/** An RGB PNG without a colour profile: its pixels come back from a canvas unchanged. */
const IMAGE_DATA_SOURCE = "images/shapes_wide.png";

let browser;
before(async () => (browser = await launch()));
after(() => browser?.close());

/** Runs the whole golden input set through ClipModel inside the page. */
function runInPage(page, device) {
  return page.evaluate(
    async ({ model, device, inputs, imageDataSource }) => {
      const { ClipModel } = await import("./webclip.js");
      const fetchBytes = async (file) => new Uint8Array(await (await fetch(`/fixtures/${file}`)).arrayBuffer());
      const clip = await ClipModel.load(`/fixtures/models/${model}`, { device });
      const width = clip.embedDim;
      const rows = (flat) => Array.from({ length: flat.length / width }, (_, i) => Array.from(flat.slice(i * width, (i + 1) * width)));
      const adapter = device === "webgpu" ? await navigator.gpu.requestAdapter() : null;
      const out = { device: clip.device, notes: clip.notes, shaderF16: adapter?.features.has("shader-f16") ?? false, texts: rows(await clip.embedText(inputs.texts)), images: [], probs: [] };
      for (const file of inputs.images) {
        const bytes = await fetchBytes(file);
        const before = (await clip.stats()).kernelLaunches;
        out.images.push(Array.from(await clip.embedImage(bytes)));
        const after = (await clip.stats()).kernelLaunches;
        out.launchesPerImage ??= Object.fromEntries(Object.keys(after).map((kernel) => [kernel, after[kernel] - before[kernel]]));
        const { labels, probs } = await clip.classify(new Blob([bytes]), inputs.labels, inputs.template);
        out.labels = labels;
        out.probs.push(Array.from(probs));
      }
      // ImageData: decoded pixels instead of a file.
      const bitmap = await createImageBitmap(new Blob([await fetchBytes(imageDataSource)]), { colorSpaceConversion: "none" });
      const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
      const context = canvas.getContext("2d");
      context.drawImage(bitmap, 0, 0);
      out.imageData = Array.from(await clip.embedImage(context.getImageData(0, 0, bitmap.width, bitmap.height)));
      clip.dispose();
      return out;
    },
    { model: MODEL, device, inputs, imageDataSource: IMAGE_DATA_SOURCE },
  );
}

for (const [device, name] of [
  ["webgpu", "WebGPU"],
  ["cpu", "the CPU"],
]) {
  test(`ClipModel on ${name} matches transformers (${MODEL}; within ${TOLERANCE}, ${F16_TOLERANCE} with f16 weights, JPEG files ${JPEG_TOLERANCE})`, { timeout: TEST_TIMEOUT }, async (t) => {
    const { page, problems } = await openPage(browser);
    const golden = goldenRows(fixture(`golden/${MODEL}.safetensors`));
    const started = performance.now();
    const got = await runInPage(page, device);
    t.diagnostic(`${inputs.texts.length} texts, ${inputs.images.length} images twice: ${((performance.now() - started) / 1000).toFixed(1)} s`);

    assert.equal(got.device, device, "model.device");
    // The tiny model's 2 vision layers: attention once a layer; LayerNorm as the
    // pre-norm, the first layer's first norm and two fused steps a layer; the
    // linear layers: the patch embedding, four a layer, the projection, all
    // with f16 weights where the adapter has shader-f16. None on the CPU.
    const linear = 1 + 2 * 4 + 1;
    const expected =
      device === "webgpu"
        ? { attention: 2, layerNorm: 2 + 2 * 2, linear, linearF16: got.shaderF16 ? linear : 0, softmax: 0 }
        : { attention: 0, layerNorm: 0, linear: 0, linearF16: 0, softmax: 0 };
    t.diagnostic(`adapter has shader-f16: ${got.shaderF16}`);
    assert.deepEqual(got.launchesPerImage, expected, "our kernels' launches for one image");
    assert.deepEqual(got.notes, [], "no kernel failed its check");
    assert.deepEqual(got.labels, inputs.labels);
    // f16 weights (where the adapter has shader-f16) move embeddings by up
    // to ~2.4e-4 (tests/golden.rs measures it natively).
    const within = got.shaderF16 && device === "webgpu" ? F16_TOLERANCE : TOLERANCE;
    assertRowsClose(t, "text embeddings", got.texts, golden.text_embeds, within);
    // Lossless formats decode exactly; JPEG decoders differ slightly.
    for (const [kind, tolerance] of [
      ["lossless", within],
      ["jpeg", JPEG_TOLERANCE + within - TOLERANCE],
    ]) {
      const pick = (rows) => rows.filter((_, i) => isJpeg(inputs.images[i]) === (kind === "jpeg"));
      assertRowsClose(t, `image embeddings (${kind} files)`, pick(got.images), pick(golden.image_embeds), tolerance);
      assertRowsClose(t, `classify probabilities (${kind} files)`, pick(got.probs), pick(golden.probs), tolerance);
    }
    const index = inputs.images.indexOf(IMAGE_DATA_SOURCE);
    assertRowsClose(t, "image embedding from ImageData", [got.imageData], [golden.image_embeds[index]], within);
    assert.deepEqual(problems, [], "console errors");
    await page.context().close();
  });
}

test("dispose() rejects the calls still running and every later one", { timeout: TEST_TIMEOUT }, async () => {
  const { page } = await openPage(browser);
  const messages = await page.evaluate(async (model) => {
    const { ClipModel } = await import("./webclip.js");
    const clip = await ClipModel.load(`/fixtures/models/${model}`, { device: "cpu" });
    const running = clip.embedText(["a photo of a cat"]);
    clip.dispose();
    const message = (promise) => promise.then(() => "resolved", (error) => error.message);
    return [await message(running), await message(clip.embedText(["a dog"]))];
  }, MODEL);
  assert.deepEqual(messages, ["the model was unloaded", "the model was unloaded"]);
  await page.context().close();
});

test("wrong argument types are refused with the parameter's name, and the model keeps working", { timeout: TEST_TIMEOUT }, async () => {
  const { page } = await openPage(browser);
  const outcome = await page.evaluate(async (model) => {
    const { ClipModel } = await import("./webclip.js");
    const clip = await ClipModel.load(`/fixtures/models/${model}`, { device: "cpu" });
    const image = new Uint8Array(await (await fetch("/fixtures/images/chelsea.png")).arrayBuffer());
    const message = (call) => call().then(() => "resolved", (error) => `${error.name}: ${error.message}`);
    const messages = [
      await message(() => clip.classify(image, "cat")),
      await message(() => clip.classify(image, ["cat", 2])),
      await message(() => clip.classify(image, ["cat", "dog"], 7)),
      await message(() => clip.embedText("a cat")),
      await message(() => clip.embedText(null)),
    ];
    const { probs } = await clip.classify(image, ["cat", "dog"]);
    return { messages, probs: [...probs] };
  }, MODEL);
  assert.deepEqual(outcome.messages, [
    "TypeError: labels must be an array of strings; wrap a single one in [ ]",
    "TypeError: labels[1] must be a string, not a number",
    'TypeError: template must be a string such as "a photo of a {}", not a number',
    "TypeError: texts must be an array of strings; wrap a single one in [ ]",
    "TypeError: texts must be an array of strings, not null",
  ]);
  assert.equal(outcome.probs.length, 2);
  assert.ok(Math.abs(outcome.probs[0] + outcome.probs[1] - 1) < 1e-5, `${outcome.probs}`);
  await page.context().close();
});
