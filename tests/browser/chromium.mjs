// How the browser tests and the benchmark start Chromium: headless, WebGPU
// on SwiftShader (the software fallback adapter), no network but the page's
// own server. Nothing here imports Playwright, so any folder can use it.

export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

export const FLAGS = [
  "--no-sandbox",
  "--disable-gpu-sandbox",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--enable-unsafe-webgpu",
];
