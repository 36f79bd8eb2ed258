// `npm start`: serve from dist/, compiling first only the parts whose sources
// changed since their last build. Plain JavaScript, because it runs before
// anything is compiled; a start with an up-to-date dist costs a walk of the
// source tree's modification times, not a build.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

/** Each build: its npm script, what it reads, and one file it writes on every successful run. */
const builds = [
  {
    script: "build:server",
    inputs: ["src", "gen", "tsconfig.json", "tsconfig.build.json"],
    skip: join(root, "src", "console"),
    output: join(root, "dist", "src", "main.js"),
  },
  {
    script: "build:console",
    inputs: ["src/console", "gen"],
    output: join(root, "dist", "console", "index.html"),
  },
];

/**
 * The newest modification time under path; a directory's own time counts, so
 * deleted and renamed files do too. A missing path (an image that ships only
 * dist/) counts as never changed.
 */
function newestMtime(path, skip) {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (!stat) return -Infinity;
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(path)) {
    const child = join(path, entry);
    if (child !== skip) newest = Math.max(newest, newestMtime(child, skip));
  }
  return newest;
}

function builtAt(file) {
  return statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? -1;
}

for (const build of builds) {
  const sources = Math.max(...build.inputs.map((input) => newestMtime(join(root, input), build.skip)));
  if (builtAt(build.output) >= sources) continue;
  process.stderr.write(`modelservice: sources changed since the last build, running npm run ${build.script}\n`);
  const run = spawnSync("npm", ["run", "-s", build.script], { cwd: root, stdio: "inherit", shell: process.platform === "win32" });
  if (run.status !== 0) process.exit(run.status ?? 1);
}

await import(pathToFileURL(join(root, "dist", "src", "main.js")).href);
