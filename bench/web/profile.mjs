// Where webclip's time goes in the browser: samples the Web Worker that owns
// the model (Chrome's profiler, through the DevTools protocol) while it embeds
// an image or prompts on the CPU path, and prints the functions that took the
// most time by their own code. Run by `cargo xtask bench-web --profile`.
//
//   node profile.mjs --dist DIR --models DIR --images DIR --model NAME

import { parseArgs } from "node:util";
import { chromium } from "playwright-core";
import { CHROMIUM, FLAGS } from "../../tests/browser/chromium.mjs";
import { serve } from "./server.mjs";

const { values: args } = parseArgs({
  options: { dist: { type: "string" }, models: { type: "string" }, images: { type: "string" }, model: { type: "string" } },
  strict: false,
});
const ROUNDS = 5;

const server = await serve(args);
const base = `http://127.0.0.1:${server.address().port}`;
const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
try {
  const page = await browser.newPage();
  const cdp = await page.context().newCDPSession(page);
  // The worker is a target of its own; its messages come wrapped.
  let worker = null;
  const replies = new Map();
  let nextId = 1;
  cdp.on("Target.attachedToTarget", ({ sessionId, targetInfo }) => {
    if (targetInfo.type === "worker") worker = sessionId;
  });
  cdp.on("Target.receivedMessageFromTarget", ({ message }) => {
    const reply = JSON.parse(message);
    replies.get(reply.id)?.(reply);
    replies.delete(reply.id);
  });
  const inWorker = (method, params = {}) =>
    new Promise((resolve) => {
      const id = nextId++;
      replies.set(id, resolve);
      cdp.send("Target.sendMessageToTarget", { sessionId: worker, message: JSON.stringify({ id, method, params }) });
    });
  await cdp.send("Target.setAutoAttach", { autoAttach: true, waitForDebuggerOnStart: false, flatten: false });
  await page.goto(`${base}/bench/page.html`);
  await page.evaluate(async (model) => {
    const { ClipModel } = await import("/webclip.js");
    window.clip = await ClipModel.load(`/models/${model}`, { device: "cpu" });
    window.image = await (await fetch("/images/chelsea.png")).blob();
    await window.clip.embedImage(window.image);
  }, args.model);
  for (const [what, work] of [
    ["image", (i) => window.clip.embedImage(window.image)],
    ["8 prompts", (i) => window.clip.embedText(Array.from({ length: 8 }, (_, k) => `a photo of a cat, number ${i * 8 + k}`))],
  ]) {
    await inWorker("Profiler.enable");
    await inWorker("Profiler.setSamplingInterval", { interval: 200 });
    await inWorker("Profiler.start");
    const ms = await page.evaluate(
      async ([source, rounds]) => {
        const work = eval(source);
        const start = performance.now();
        for (let i = 0; i < rounds; i++) await work(i);
        return (performance.now() - start) / rounds;
      },
      [work.toString(), ROUNDS],
    );
    const { result } = await inWorker("Profiler.stop");
    const { nodes, samples, timeDeltas } = result.profile;
    const nameOf = new Map(nodes.map((n) => [n.id, n.callFrame.functionName || "(program)"]));
    const own = new Map();
    samples.forEach((id, i) => own.set(nameOf.get(id), (own.get(nameOf.get(id)) ?? 0) + (timeDeltas[i] ?? 0)));
    const total = [...own.values()].reduce((a, b) => a + b, 0);
    console.log(`${what}: ${ms.toFixed(0)} ms per call (mean of ${ROUNDS}); own time by function:`);
    for (const [name, time] of [...own].sort((a, b) => b[1] - a[1]).slice(0, 12)) {
      console.log(`  ${((100 * time) / total).toFixed(1).padStart(5)}%  ${name.replace(/::h[0-9a-f]{16}$/, "")}`);
    }
  }
} finally {
  await browser.close();
  server.close();
}
