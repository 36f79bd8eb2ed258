import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

/**
 * The web console's build: src/console → dist/console, served by the service
 * at /console (src/wire/console/console-files.ts). Preact through Vite's own
 * JSX transform, so no Babel plugin is needed.
 */
const root = fileURLToPath(new URL(".", import.meta.url));

export default defineConfig({
  root,
  base: "/console/",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: fileURLToPath(new URL("../../dist/console", import.meta.url)),
    // dist/console lies outside the root; it holds only this build's output.
    emptyOutDir: true,
    // Browsers of the last two years; the generated client needs BigInt.
    target: "es2022",
    // The console stays below the size where splitting would pay off.
    chunkSizeWarningLimit: 600,
  },
});
