// The static server of the benchmark pages: webclip's dist, transformers.js,
// the models and the images, with the headers any static host sends.

import { createReadStream, existsSync, statSync } from "node:fs";
import { createServer } from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const TYPES = { ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm", ".json": "application/json", ".html": "text/html", ".png": "image/png" };

/** Serves on a free port of 127.0.0.1; `folders` names dist, models and images. */
export function serve({ dist, models, images }) {
  const routes = [
    ["/bench/", HERE],
    ["/tjs/", path.join(HERE, "node_modules/@huggingface/transformers/dist")],
    ["/models/", models],
    ["/images/", images],
    ["/", dist],
  ];
  const server = createServer((request, response) => {
    const url = decodeURIComponent(new URL(request.url, "http://localhost").pathname);
    const [prefix, dir] = routes.find(([prefix]) => url.startsWith(prefix));
    const file = path.join(dir, url.slice(prefix.length));
    if (url.includes("..") || !existsSync(file) || !statSync(file).isFile()) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, {
      "Content-Type": TYPES[path.extname(file)] ?? "application/octet-stream",
      "Content-Length": statSync(file).size,
      "Cache-Control": "no-cache",
    });
    createReadStream(file).pipe(response);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}
