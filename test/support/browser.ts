import { existsSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join } from "node:path";
import { chromium, type Browser } from "playwright-core";

/** Debian's Chromium, which .ci/run installs with apt; tests never download a browser. */
export const chromiumPath = "/usr/bin/chromium";

/** The built console (npm test builds it first: the pretest script). */
export const consoleDir = join(import.meta.dirname, "..", "..", "dist", "console");

/**
 * Headless Chromium with the flags this closed network needs: without the
 * background-networking ones it keeps opening connections that are refused.
 * chromium.launch gives every run a fresh temporary --user-data-dir.
 */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(chromiumPath)) {
    throw new Error(`${chromiumPath} is missing: install Debian's chromium (apt-get install chromium), as .ci/run does`);
  }
  if (!existsSync(join(consoleDir, "index.html"))) {
    throw new Error(`${consoleDir} is not built: run \`npm run build:console\` (npm test does it first)`);
  }
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

export interface StaticSite {
  origin: string;
  server: Server;
  close(): Promise<void>;
}

const types: Record<string, string> = { ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".css": "text/css" };

/**
 * The built console served by a plain static server on its own port (another
 * origin), its index.html naming the service to call: the way a team would
 * host the console on its own site.
 */
export async function staticConsoleSite(serviceUrl: () => string): Promise<StaticSite> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?", 1)[0];
    const file = join(consoleDir, path.replace(/^\/console\/?/, ""));
    if (path.startsWith("/console/assets/") && !path.includes("..") && existsSync(file)) {
      res.writeHead(200, { "content-type": types[extname(file)] ?? "application/octet-stream" });
      return res.end(readFileSync(file));
    }
    if (path === "/console" || path === "/console/") {
      const html = readFileSync(join(consoleDir, "index.html"), "utf8").replace(
        "<head>",
        `<head>\n  <meta name="modelservice-url" content="${serviceUrl()}">`,
      );
      res.writeHead(200, { "content-type": types[".html"] });
      return res.end(html);
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    server,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
