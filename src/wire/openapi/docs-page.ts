import { readFileSync } from "node:fs";
import type { ServerResponse } from "node:http";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/**
 * The human API reference at GET /docs: Swagger UI rendering /openapi.json.
 * Every byte is served from this process (swagger-ui-dist's static files), so
 * the page works offline and behind egress filters, and loads nothing from a
 * CDN.
 */

const js = "text/javascript; charset=utf-8";
const css = "text/css; charset=utf-8";

/** The only files of swagger-ui-dist served under /docs/, with their content types. */
const packageAssets: Readonly<Record<string, string>> = {
  "swagger-ui.css": css,
  "index.css": css,
  "swagger-ui-bundle.js": js,
  "swagger-ui-standalone-preset.js": js,
};

/**
 * Starts Swagger UI on our document. `validatorUrl: null` keeps it from
 * sending the document to validator.swagger.io; the Topbar is removed because
 * its "Explore" box loads any URL into a page served from our origin. A file
 * rather than an inline script, so a Content-Security-Policy without
 * 'unsafe-inline' can be added in front of the page.
 */
const initScript = `"use strict";
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [function () { return { components: { Topbar: function () { return null; } } }; }],
    layout: "StandaloneLayout",
  });
});
`;

// Absolute paths: the page answers at /docs (no trailing slash), where relative URLs would resolve under /.
// The data: icon stops the browser from asking for /favicon.ico.
const page = `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>ModelService API reference</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="/docs/swagger-ui.css">
  <link rel="stylesheet" href="/docs/index.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/swagger-ui-standalone-preset.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>
`;

interface Asset {
  contentType: string;
  body: Buffer;
  cacheControl: string;
}

/**
 * The directory of swagger-ui-dist. Resolved through its package.json rather
 * than by importing the package, whose entry point would evaluate the 1.5 MB
 * browser bundle in the server.
 */
function swaggerUiDir(): string {
  return dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
}

/** Every file the page needs, read once at start (a missing package fails the start, not a request). */
function loadAssets(): Map<string, Asset> {
  const dir = swaggerUiDir();
  // The package files change only with an upgrade, which restarts the process; an hour bounds staleness.
  const cacheControl = "public, max-age=3600";
  const assets = new Map<string, Asset>();
  for (const [name, contentType] of Object.entries(packageAssets)) {
    assets.set(`/docs/${name}`, { contentType, body: readFileSync(join(dir, name)), cacheControl });
  }
  assets.set("/docs/init.js", { contentType: js, body: Buffer.from(initScript), cacheControl });
  // The page itself is revalidated, so a new deployment's page (and asset list) shows at once.
  const html: Asset = { contentType: "text/html; charset=utf-8", body: Buffer.from(page), cacheControl: "no-cache" };
  assets.set("/docs", html);
  assets.set("/docs/", html);
  return assets;
}

function send(res: ServerResponse, asset: Asset): void {
  res.writeHead(200, {
    "content-type": asset.contentType,
    "content-length": asset.body.length,
    "cache-control": asset.cacheControl,
    "x-content-type-options": "nosniff",
  });
  res.end(asset.body);
}

/**
 * The handler of /docs and its assets: answers and returns true for those
 * paths (an exact allow-list, so no other file can be reached), returns false
 * for any other path. The caller routes only GET requests here.
 */
export function docsPage(): (path: string, res: ServerResponse) => boolean {
  const assets = loadAssets();
  return (path, res) => {
    const asset = assets.get(path);
    if (!asset) return false;
    send(res, asset);
    return true;
  };
}
