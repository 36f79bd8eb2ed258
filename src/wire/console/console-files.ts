import { existsSync, readdirSync, readFileSync } from "node:fs";
import type { ServerResponse } from "node:http";
import { dirname, extname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The web console's built files (`vite build` of src/console into
 * dist/console), served at /console. Every file is read once at start into an
 * allow-list keyed by its URL, so no request path ever reaches the file
 * system: traversal (`..`, encoded or not) can only miss the list.
 */

const contentTypes: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
};

/**
 * The page runs only its own scripts and styles and talks only to its own
 * origin; it may not be framed (clickjacking of the enable/delete buttons).
 */
const contentSecurityPolicy =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * Paths the single-page app routes itself (`/console/models/new`), answered
 * with index.html; a missing file (a name with a dot, or under assets/) is 404.
 */
const clientRoute = /^\/console(?:\/[A-Za-z0-9_-]+)*\/?$/;

const isClientRoute = (path: string) => clientRoute.test(path) && !path.startsWith("/console/assets/");

interface Asset {
  body: Buffer;
  headers: Record<string, string>;
}

/**
 * The package root: the nearest directory with a package.json above this
 * module, so the same code finds dist/console from src/wire/console (tsx,
 * vitest) and from dist/src/wire/console (the built server).
 */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
  return dir;
}

export const defaultConsoleDir = (): string => join(packageRoot(), "dist", "console");

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const file of filesUnder(dir)) {
    const url = "/console/" + relative(dir, file).split(sep).join("/");
    const extension = extname(file);
    const headers: Record<string, string> = {
      "content-type": contentTypes[extension] ?? "application/octet-stream",
      "x-content-type-options": "nosniff",
      // Vite puts a content hash in every name under assets/, so those never change;
      // anything else (index.html above all) is revalidated so a new build shows at once.
      "cache-control": url.startsWith("/console/assets/") ? "public, max-age=31536000, immutable" : "no-cache",
    };
    if (extension === ".html") {
      headers["content-security-policy"] = contentSecurityPolicy;
      headers["referrer-policy"] = "no-referrer";
    }
    assets.set(url, { body: readFileSync(file), headers });
  }
  return assets;
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, {
    "content-type": "text/plain; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
  });
  res.end(text);
}

/**
 * The handler of /console and everything under it: a built file, index.html
 * for a client route, 404 for any other path, 503 with what to run when the
 * console was never built. Returns false for paths outside /console. The
 * caller routes only GET and HEAD here.
 */
export function consoleFiles(dir: string): (path: string, res: ServerResponse) => boolean {
  const built = existsSync(join(dir, "index.html"));
  const assets = built ? loadAssets(dir) : new Map<string, Asset>();
  const index = assets.get("/console/index.html");
  return (path, res) => {
    if (path !== "/console" && !path.startsWith("/console/")) return false;
    if (!index) {
      sendText(res, 503, `The web console is not built (no ${join(dir, "index.html")}): run \`npm run build\`, then restart the service.\n`);
      return true;
    }
    const asset = assets.get(path) ?? (isClientRoute(path) ? index : undefined);
    if (!asset) {
      sendText(res, 404, `Not found: ${path.slice(0, 200)}\n`);
      return true;
    }
    res.writeHead(200, { ...asset.headers, "content-length": String(asset.body.length) });
    res.end(asset.body);
    return true;
  };
}
