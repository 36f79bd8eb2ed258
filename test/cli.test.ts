import { execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelService } from "../gen/modelservice/v1/model_service_pb.js";
import { comments } from "../gen/modelservice/v1/model_service_comments.js";
import { commandName } from "../src/cli/command-table.js";
import { freePort } from "./support/server-process.js";
import { jwtSecret, startTestService, type TestService } from "./support/service.js";
import { parse } from "csv-parse/sync";

/*
 * The CLI as a user runs it: a subprocess of the built bin
 * (dist/src/cli/modelservice.js), against the real server.
 */

const root = resolve(import.meta.dirname, "..");
const bin = join(root, "dist/src/cli/modelservice.js");

interface Result {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Each CLI run is a fresh Node process (about a second on a busy machine); tests run several. */
const slow = { timeout: 120_000 };

let service: TestService;
let apiKey: string;
const workspace = "ws_cli";

function env(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, MODELSERVICE_URL: service?.url, MODELSERVICE_API_KEY: apiKey, ...extra };
  delete e.MODELSERVICE_TOKEN;
  for (const [k, v] of Object.entries(extra)) if (v === undefined) delete e[k];
  return e;
}

function runFile(file: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string; timeout?: number } = {}): Promise<Result> {
  const started = Date.now();
  return new Promise((done) => {
    const child = execFile(file, args, { env: options.env ?? env(), cwd: options.cwd ?? root, maxBuffer: 64 * 1024 * 1024, timeout: options.timeout ?? 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      done({ code, stdout: String(stdout), stderr: String(stderr), ms: Date.now() - started });
    });
    if (options.input !== undefined) child.stdin!.end(options.input);
  });
}

/** `modelservice …args` through node. */
function cli(...args: string[]): Promise<Result> {
  return runFile(process.execPath, [bin, ...args]);
}

function cliWith(envExtra: Record<string, string | undefined>, ...args: string[]): Promise<Result> {
  return runFile(process.execPath, [bin, ...args], { env: env(envExtra) });
}

async function ok(...args: string[]): Promise<string> {
  const r = await cli(...args);
  if (r.code !== 0) throw new Error(`modelservice ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

async function okJson<T = Record<string, unknown>>(...args: string[]): Promise<T> {
  return JSON.parse(await ok(...args)) as T;
}

async function rest(path: string, init: RequestInit = {}): Promise<unknown> {
  const res = await fetch(service.url + path, { ...init, headers: { authorization: `Bearer ${apiKey}`, ...(init.headers ?? {}) } });
  expect(res.ok, `${path}: ${res.status}`).toBe(true);
  return res.json();
}

interface ModelJson {
  metadata: { id: string; name: string; etag: string; labels: Record<string, string>; externalId?: string };
  spec: { family?: string; provider?: string; status?: string; inputPricePerMillionTokensUsd?: string };
}

beforeAll(async () => {
  // One build of the bin, as `npm install` (prepare) makes it.
  const build = await runFile(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"], { env: process.env, timeout: 170_000 });
  if (build.code !== 0) throw new Error(`build failed: ${build.stdout}${build.stderr}`);
  service = await startTestService();
  apiKey = await service.token(workspace);
}, 180_000);

afterAll(async () => {
  await service?.dispose();
});

describe("command table", slow, () => {
  it("has one command per RPC of ModelService, each answering --help", async () => {
    const names = ModelService.methods.map((m) => ({ rpc: m.name, ...commandName(m.name) }));
    expect(names.map((n) => `${n.group} ${n.verb}`)).toEqual([
      "models list",
      "models retrieve",
      "models set-status",
      "models enable",
      "models disable",
      "models create",
      "models update",
      "models rotate-credentials",
      "models delete",
      "models undelete",
      "models duplicate",
      "models revisions",
      "system-models list",
      "system-models retrieve",
      "system-models create",
      "system-models update",
      "system-models delete",
      "models batch-create",
      "models batch-update",
      "models batch-delete",
      "bundles apply",
      "drafts create",
      "drafts update",
      "drafts list",
      "drafts publish",
      "drafts delete",
      "models export",
      "models watch",
      "models import",
      "system-models refresh",
      "models estimate-cost",
      "models batch-estimate-cost",
      "models acknowledge-upstream-change",
    ]);
    expect(new Set(names.map((n) => `${n.group} ${n.verb}`)).size).toBe(ModelService.methods.length);
    const results = await Promise.all(names.map(async (n) => ({ n, r: await cli(n.group, n.verb, "--help") })));
    for (const { n, r } of results) {
      expect(r.code, `${n.group} ${n.verb}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toContain(`RPC modelservice.v1.ModelService/${n.rpc}`);
      expect(r.stdout.replace(/\s+/g, " ")).toContain(comments[`modelservice.v1.ModelService.${n.rpc}`]!.replace(/\s+/g, " "));
    }
  });

  it("derives flags, help and enum choices from the request message", async () => {
    const help = (await ok("models", "list", "--help")).replace(/\s+/g, " ");
    for (const field of ModelService.method.listModels.input.fields) {
      expect(help).toContain(`--${field.name.replace(/_/g, "-")}`);
      expect(help).toContain(comments[`modelservice.v1.ListModelsRequest.${field.name}`]!.split("\n")[0]);
    }
    expect(help).toContain("--all");
    expect(help).toContain('"MODEL_STATUS_ENABLED", "MODEL_STATUS_DISABLED"');
    const update = (await ok("models", "update", "--help")).replace(/\s+/g, " ");
    for (const flag of ["--id", "--model-json", "--model-file", "--update-mask", "--family", "--labels", "--input-price-per-million-tokens-usd"]) {
      expect(update).toContain(flag);
    }
    expect((await ok("models", "import", "--help")).replace(/\s+/g, " ")).toContain("--file <path|->");
  });
});

describe("output", slow, () => {
  it("prints exactly the REST response as JSON", async () => {
    const list = await okJson<{ items: ModelJson[] }>("models", "list", "--limit", "5");
    expect(list).toEqual(await rest("/v1/models?limit=5"));
    const id = list.items[0]!.metadata.id;
    expect(await okJson("models", "retrieve", "--id", id)).toEqual(await rest(`/v1/models/${id}`));
    expect(await okJson("models", "get", "--id", id)).toEqual(await rest(`/v1/models/${id}`));
  });

  it("prints aligned columns with dollar prices in table output", async () => {
    // Priced models: some catalog models (embeddings, images) have no input price to show.
    const priced = ["--filter", "spec.inputPricePerMillionTokens > 0"];
    const out = await ok("models", "list", "--limit", "4", ...priced, "--output", "table");
    const lines = out.split("\n");
    const header = lines[0]!;
    expect(header).toMatch(/^ID +NAME +PROVIDER +FAMILY +STATUS +INPUT \$\/M +OUTPUT \$\/M$/);
    const starts = ["NAME", "PROVIDER", "FAMILY", "STATUS", "INPUT $/M"].map((h) => header.indexOf(h));
    const rows = lines.slice(1, 5);
    expect(rows).toHaveLength(4);
    const json = await okJson<{ items: ModelJson[] }>("models", "list", "--limit", "4", ...priced);
    rows.forEach((row, i) => {
      const m = json.items[i]!;
      expect(row.slice(0, starts[0]).trim()).toBe(m.metadata.id);
      expect(row.slice(starts[0], starts[1]).trim()).toBe(m.metadata.name);
      expect(row.slice(starts[1], starts[2]).trim()).toBe(m.spec.provider);
      expect(row.slice(starts[2], starts[3]).trim()).toBe(m.spec.family);
      expect(row.slice(starts[3], starts[4]).trim()).toBe("enabled");
      expect(row.slice(starts[4])).toMatch(/^\$\d+\.\d{2,}/);
    });
    expect(out).not.toContain("total:");
  });

  it("prints lists as CSV", async () => {
    const out = await ok("models", "list", "--limit", "3", "-o", "csv");
    const lines = out.trimEnd().split("\n");
    expect(lines[0]).toBe("id,name,provider,family,status,input_usd_per_million,output_usd_per_million");
    expect(lines).toHaveLength(4);
    expect(lines[1]).toMatch(/^model_[0-9A-Z]{26},.*,MODEL_STATUS_ENABLED,/);
  });

  it("follows every page with --all, silently when stderr is not a TTY", async () => {
    const r = await cli("models", "list", "--all", "--limit", "7");
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    const all = JSON.parse(r.stdout) as { items: ModelJson[]; pagination: { nextCursor: string; total: number } };
    const ids: string[] = [];
    let cursor = "";
    do {
      const page = (await rest(`/v1/models?limit=7${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`)) as { items: ModelJson[]; pagination: { nextCursor: string } };
      ids.push(...page.items.map((m) => m.metadata.id));
      cursor = page.pagination.nextCursor;
    } while (cursor !== "");
    expect(ids.length).toBeGreaterThan(7);
    expect(all.items.map((m) => m.metadata.id)).toEqual(ids);
    expect(all.pagination).toEqual({ nextCursor: "", total: ids.length });
  });

  it.skipIf(!existsSync("/usr/bin/script"))("shows a progress bar when stderr is a terminal", async () => {
    // util-linux `script` gives the CLI a pseudo-terminal; stdout still goes to a file.
    const dir = mkdtempSync(join(tmpdir(), "cli-tty-"));
    const out = join(dir, "all.json");
    const r = await runFile("/usr/bin/script", ["-qec", `'${process.execPath}' '${bin}' models list --all --limit 5 > '${out}'`, "/dev/null"]);
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/listing \[.*\] \d+% \| \d+\/\d+ items/);
    const all = JSON.parse(readFileSync(out, "utf8")) as { items: unknown[]; pagination: { total: number } };
    expect(all.items).toHaveLength(all.pagination.total);
    rmSync(dir, { recursive: true, force: true });
  });

  it("speaks gRPC and gRPC-Web as well as Connect", async () => {
    const connect = await okJson("models", "list", "--limit", "3");
    expect(await okJson("--protocol", "grpc", "models", "list", "--limit", "3")).toEqual(connect);
    expect(await okJson("models", "list", "--limit", "3", "--protocol", "grpc-web")).toEqual(connect);
  });
});

describe("every command against the server", slow, () => {
  it("creates, changes, deletes and restores a model", async () => {
    const created = await okJson<ModelJson>(
      "models", "create", "--name", "CLI model", "--provider", "openai", "--family", "cli-fam",
      "--input-price-per-million-tokens-usd", "0.075", "--output-price-per-million-tokens-usd", "0.3",
      "--labels", "env=prod,team=cli", "--external-id", "cli-1", "--model-url", "https://api.example.com/v1", "--token", "sk-cli",
    );
    const id = created.metadata.id;
    expect(created.metadata.labels).toEqual({ env: "prod", team: "cli" });
    expect(created.spec.inputPricePerMillionTokensUsd).toBe("0.075");
    expect(created).toEqual(await rest(`/v1/models/${id}`));

    const updated = await okJson<ModelJson>("models", "update", "--id", id, "--family", "cli-fam-2", "--update-mask", "spec.family");
    expect(updated.spec.family).toBe("cli-fam-2");
    const fromJson = await okJson<ModelJson>("models", "update", "--id", id, "--model-json", '{"spec":{"description":"from json"}}', "--update-mask", "spec.description");
    expect((fromJson.spec as { description?: string }).description).toBe("from json");

    expect((await okJson<ModelJson>("models", "set-status", "--id", id, "--status", "MODEL_STATUS_DISABLED")).spec.status).toBe("MODEL_STATUS_DISABLED");
    expect((await okJson<ModelJson>("models", "enable", "--id", id)).spec.status).toBe("MODEL_STATUS_ENABLED");
    expect((await okJson<ModelJson>("models", "disable", "--id", id)).spec.status).toBe("MODEL_STATUS_DISABLED");
    expect((await okJson<ModelJson>("models", "set-status", "--id", id, "--status", "enabled")).spec.status).toBe("MODEL_STATUS_ENABLED");

    const rotated = await okJson<{ spec: { hasToken: boolean; credentialFingerprint?: string } }>("models", "rotate-credentials", "--id", id, "--token", "sk-new");
    expect(rotated.spec.hasToken).toBe(true);

    const copy = await okJson<ModelJson>("models", "duplicate", "--id", id, "--name", "CLI copy");
    expect(copy.metadata.name).toBe("CLI copy");

    const revisions = await okJson<{ items: Array<{ action: string }> }>("models", "revisions", "--id", id);
    expect(revisions.items.map((r) => r.action)).toContain("REVISION_ACTION_CREATE");
    expect(revisions).toEqual(await rest(`/v1/models/${id}/revisions`));

    const deleted = await okJson<{ metadata: { deleteTime?: string } }>("models", "delete", "--id", id);
    expect(deleted.metadata.deleteTime).toBeDefined();
    const restored = await okJson<{ metadata: { deleteTime?: string } }>("models", "undelete", "--id", id);
    expect(restored.metadata.deleteTime).toBeUndefined();

    const filtered = await okJson<{ items: ModelJson[] }>("models", "list", "--labels", "team=cli", "--filter", 'spec.provider = "openai"');
    expect(filtered.items.map((m) => m.metadata.id).sort()).toEqual([id, copy.metadata.id].sort());
  });

  it("runs the batch methods", async () => {
    const requests = JSON.stringify([1, 2].map((i) => ({ model: { metadata: { name: `Batch ${i}` }, spec: { provider: "openai", family: `batch-${i}`, modelUrl: "https://api.example.com" } } })));
    const created = await okJson<{ models: ModelJson[] }>("models", "batch-create", "--requests-json", requests);
    expect(created.models).toHaveLength(2);
    const ids = created.models.map((m) => m.metadata.id);
    const dir = mkdtempSync(join(tmpdir(), "cli-batch-"));
    const file = join(dir, "updates.json");
    writeFileSync(file, JSON.stringify(ids.map((id) => ({ id, model: { spec: { family: "batch-updated" } }, updateMask: "spec.family" }))));
    const updated = await okJson<{ models: ModelJson[] }>("models", "batch-update", "--requests-file", file);
    expect(updated.models.map((m) => m.spec.family)).toEqual(["batch-updated", "batch-updated"]);
    rmSync(dir, { recursive: true, force: true });
    const deleted = await okJson<{ results: Array<{ model?: ModelJson }> }>("models", "batch-delete", "--ids", ids.join(","), "--allow-partial");
    expect(deleted.results.map((r) => r.model?.metadata.id)).toEqual(ids);
  });

  it("estimates the cost of a usage, one or a batch", async () => {
    const model = await okJson<ModelJson>("models", "create", "--name", "Priced", "--provider", "acme", "--family", "priced", "--input-price-per-million-tokens-usd", "2.5");
    const estimate = await okJson<{ totalUsd: string }>("models", "estimate-cost", model.metadata.id, "--input-tokens", "1234567");
    // 1,234,567 × $2.5 per million.
    expect(estimate.totalUsd).toBe("3.0864175");
    const requests = JSON.stringify([{ id: model.metadata.id, usage: { inputTokens: "1" } }, { id: model.metadata.id, usage: { inputTokens: "3" } }]);
    expect((await okJson<{ totalUsd: string }>("models", "batch-estimate-cost", "--requests-json", requests)).totalUsd).toBe("0.00001");
  });

  it("applies a bundle and works through drafts", async () => {
    const models = [{ metadata: { name: "Bundle A", externalId: "bundle-a" }, spec: { provider: "openai", family: "bundle-a", modelUrl: "https://api.example.com" } }];
    const plan = await okJson<{ createdCount: number; dryRun: boolean }>("bundles", "apply", "--bundle-key", "cli-core", "--models-json", JSON.stringify(models), "--dry-run");
    expect(plan).toMatchObject({ createdCount: 1, dryRun: true });
    const applied = await okJson<{ createdCount: number; models: ModelJson[] }>("bundles", "apply", "--bundle-key", "cli-core", "--models-json", JSON.stringify(models));
    expect(applied.createdCount).toBe(1);

    const draft = await okJson<{ id: string; version: number }>("drafts", "create", "--name", "Draft model", "--provider", "openai", "--family", "draft-fam", "--model-url", "https://api.example.com");
    const changed = await okJson<{ version: number; model: ModelJson }>("drafts", "update", "--id", draft.id, "--expected-version", String(draft.version), "--family", "draft-fam-2");
    expect(changed.model.spec.family).toBe("draft-fam-2");
    const list = await okJson<{ items: Array<{ id: string }> }>("drafts", "list");
    expect(list.items.map((d) => d.id)).toContain(draft.id);
    expect(list).toEqual(await rest("/v1/drafts"));
    const published = await okJson<ModelJson>("drafts", "publish", "--id", draft.id);
    expect(published.spec.family).toBe("draft-fam-2");
    const other = await okJson<{ id: string }>("drafts", "create", "--model-id", published.metadata.id);
    expect(await okJson("drafts", "delete", "--id", other.id)).toEqual({});
  });

  it("manages system models and refreshes the catalog", async () => {
    const created = await okJson<ModelJson>("system-models", "create", "--name", "Sys CLI", "--provider", "openai", "--family", "sys-cli", "--model-url", "https://api.example.com", "--no-visible");
    const id = created.metadata.id;
    expect(await okJson("system-models", "retrieve", "--id", id)).toEqual(await rest(`/v1/system/models/${id}`));
    const updated = await okJson<ModelJson>("system-models", "update", "--id", id, "--family", "sys-cli-2", "--update-mask", "spec.family");
    expect(updated.spec.family).toBe("sys-cli-2");
    const list = await okJson<{ items: ModelJson[] }>("system-models", "list", "--prefix", "Sys CLI");
    expect(list.items.map((m) => m.metadata.id)).toEqual([id]);
    expect((await okJson<{ metadata: { deleteTime?: string } }>("system-models", "delete", "--id", id)).metadata.deleteTime).toBeDefined();
    const dataVersion = expect.stringMatching(/^@pydantic\/genai-prices@/);
    // Nothing changed since the service started from the same data: an empty diff.
    const unchanged = { addedCount: 0, changedCount: 0, retiredCount: 0, added: [], changed: [], removed: [], dataVersion };
    expect(await okJson("system-models", "refresh")).toMatchObject({ ...unchanged, dryRun: false });
    expect(await okJson("catalog", "refresh", "--dry-run")).toMatchObject({ ...unchanged, dryRun: true });
  });

  it("exports CSV and imports it back, with no progress output on a pipe", async () => {
    const exported = await cli("models", "export", "--labels", "team=cli");
    expect(exported.code).toBe(0);
    expect(exported.stderr).toBe("");
    const res = await fetch(`${service.url}/v1/models:export?labels=team%3Dcli`, { headers: { authorization: `Bearer ${apiKey}` } });
    expect(exported.stdout).toBe(await res.text());
    expect(exported.stdout.split("\n")[0]).toMatch(/^id,/);

    const dir = mkdtempSync(join(tmpdir(), "cli-import-"));
    const file = join(dir, "models.csv");
    writeFileSync(file, exported.stdout);
    const imported = await cli("models", "import", "--file", file, "--dry-run");
    expect(imported.code).toBe(0);
    expect(imported.stderr).toMatch(/^dry run of \d+ rows, nothing written: would have created 0, updated 0, unchanged \d+, refused 0\n$/);
    expect(JSON.parse(imported.stdout)).toMatchObject({ dryRun: true, errors: [] });
    const fromStdin = await runFile(process.execPath, [bin, "models", "import", "--file", "-"], { input: exported.stdout });
    expect(fromStdin.code).toBe(0);
    expect(JSON.parse(fromStdin.stdout)).toMatchObject({ errors: [], dryRun: false });
    rmSync(dir, { recursive: true, force: true });
  });
});

describe("errors", slow, () => {
  const noStack = (r: Result) => {
    expect(r.stderr.split("\n").filter((l) => l !== "")).toHaveLength(1);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  };

  it("not found: exit 4 and one line", async () => {
    const r = await cli("models", "retrieve", "--id", "model_01ZZZZZZZZZZZZZZZZZZZZZZZZ");
    expect(r.code).toBe(4);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe('error: not_found: model "model_01ZZZZZZZZZZZZZZZZZZZZZZZZ" not found\n');
  });

  it("invalid argument and usage: exit 2", async () => {
    const invalid = await cli("models", "list", "--limit", "-1");
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toMatch(/^error: invalid_argument: .*limit/);
    noStack(invalid);

    const missing = await cli("models", "retrieve");
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe("error: missing the id: give it as the argument (models retrieve <id>) or as --id <id>\n");

    const choice = await cli("models", "set-status", "--id", "model_01ZZZZZZZZZZZZZZZZZZZZZZZZ", "--status", "sideways");
    expect(choice.code).toBe(2);
    expect(choice.stderr).toContain("MODEL_STATUS_ENABLED, MODEL_STATUS_DISABLED");

    const badUrl = await cliWith({ MODELSERVICE_URL: "not a url" }, "models", "list");
    expect(badUrl.code).toBe(2);
    expect(badUrl.stderr).toBe('error: invalid --base-url "not a url": expected an http:// or https:// URL such as http://localhost:8080\n');

    const noCommand = await cli("models", "frobnicate");
    expect(noCommand.code).toBe(2);
    noStack(noCommand);
  });

  it("unauthenticated and permission denied: exit 3", async () => {
    const anonymous = await cliWith({ MODELSERVICE_API_KEY: undefined }, "models", "list");
    expect(anonymous.code).toBe(3);
    expect(anonymous.stderr).toMatch(/^error: unauthenticated: /);
    noStack(anonymous);
    const bad = await cli("--api-key", "not-a-jwt", "models", "list");
    expect(bad.code).toBe(3);
    const readOnly = await service.token(workspace, { scope: "models:read" });
    const denied = await cliWith({ MODELSERVICE_API_KEY: readOnly }, "models", "create", "--name", "x", "--provider", "openai", "--family", "x");
    expect(denied.code).toBe(3);
    expect(denied.stderr).toMatch(/^error: permission_denied: /);
    noStack(denied);
  });

  it("unreachable server: exit 1 fast with the URL; --debug adds the stack", async () => {
    const closed = await freePort();
    const r = await cliWith({ MODELSERVICE_URL: `http://127.0.0.1:${closed}` }, "models", "list");
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`error: unavailable: cannot reach http://127.0.0.1:${closed} (ECONNREFUSED)\n`);
    expect(r.ms).toBeLessThan(10_000);
    const grpc = await cliWith({ MODELSERVICE_URL: `http://127.0.0.1:${closed}` }, "--protocol", "grpc", "models", "list");
    expect(grpc.code).toBe(1);
    expect(grpc.stderr).toMatch(/^error: unavailable: cannot reach http:\/\/127\.0\.0\.1:\d+/);
    const debug = await cliWith({ MODELSERVICE_URL: `http://127.0.0.1:${closed}` }, "--debug", "models", "list");
    expect(debug.stderr).toMatch(/^\s+at /m);
  });

  it("a server that never answers: the call deadline ends it", async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((s) => sockets.push(s));
    await new Promise<void>((done) => silent.listen(0, "127.0.0.1", done));
    const port = (silent.address() as { port: number }).port;
    try {
      const r = await cliWith({ MODELSERVICE_URL: `http://127.0.0.1:${port}` }, "models", "list", "--timeout", "1s");
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`error: deadline_exceeded: no answer from http://127.0.0.1:${port} in time (see --timeout)\n`);
      expect(r.ms).toBeLessThan(10_000);
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });
});

describe("operator commands", slow, () => {
  it("token mints a token the server accepts", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cli-token-"));
    const r = await cliWith({ MODELSERVICE_JWT_SECRET: jwtSecret, MODELSERVICE_DATA_DIR: dir, MODELSERVICE_API_KEY: undefined }, "token", "--workspace", "ws_minted", "--scope", "models:read", "--ttl", "1h");
    expect(r.code).toBe(0);
    const token = r.stdout.trim();
    expect(token.split(".")).toHaveLength(3);
    const list = await cliWith({ MODELSERVICE_API_KEY: token }, "models", "list", "--limit", "1");
    expect(list.code).toBe(0);
    const bad = await cliWith({ MODELSERVICE_JWT_SECRET: jwtSecret, MODELSERVICE_DATA_DIR: dir }, "token", "--workspace", "w", "--scope", "models:everything");
    expect(bad.code).toBe(2);
    rmSync(dir, { recursive: true, force: true });
  });

  it("migrate creates the schema and exits; rotate-keys re-seals", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cli-migrate-"));
    const r = await cliWith({ MODELSERVICE_DATA_DIR: dir }, "migrate");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^database .*modelservice\.db is at schema version \d+\n$/);
    expect(existsSync(join(dir, "modelservice.db"))).toBe(true);
    const rotate = await cliWith({ MODELSERVICE_DATA_DIR: dir }, "rotate-keys");
    expect(rotate.code).toBe(0);
    expect(rotate.stdout).toMatch(/^re-sealed 0, already under key .*: 0, failed: 0\n$/);
    // The same commands under the `ops` group.
    const ops = await cliWith({ MODELSERVICE_DATA_DIR: dir }, "ops", "migrate");
    expect([ops.code, ops.stdout]).toEqual([0, r.stdout]);
    const opsRotate = await cliWith({ MODELSERVICE_DATA_DIR: dir }, "ops", "rotate-keys");
    expect(opsRotate.code).toBe(0);
    expect(opsRotate.stdout).toMatch(/^re-sealed 0, already under key .*: 0, failed: 0\n$/);
    rmSync(dir, { recursive: true, force: true });
  });

  it("serve runs the service until SIGTERM", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cli-serve-"));
    const port = await freePort();
    const child = spawn(process.execPath, [bin, "serve", "--port", String(port), "--host", "127.0.0.1", "--data-dir", dir], {
      env: env({ MODELSERVICE_JWT_SECRET: jwtSecret, LOG_LEVEL: "warn" }),
      stdio: "ignore",
    });
    const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)));
    try {
      let healthy = false;
      for (let i = 0; i < 100 && !healthy; i++) {
        healthy = await fetch(`http://127.0.0.1:${port}/healthz`).then((res) => res.ok, () => false);
        if (!healthy) await new Promise((done) => setTimeout(done, 100));
      }
      expect(healthy).toBe(true);
      const token = await service.token("ws_served");
      const list = await cliWith({ MODELSERVICE_URL: `http://127.0.0.1:${port}`, MODELSERVICE_API_KEY: token }, "models", "list", "--limit", "1");
      expect(list.code).toBe(0);
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe("shell completion", slow, () => {
  it("completes groups, verbs and enum values in bash", async () => {
    const script = await ok("completion", "bash");
    const dir = mkdtempSync(join(tmpdir(), "cli-completion-"));
    const file = join(dir, "modelservice.bash");
    writeFileSync(file, script);
    const complete = async (...words: string[]) => {
      const r = await runFile("bash", ["-c", `source ${file}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _modelservice; echo "\${COMPREPLY[*]}"`]);
      expect(r.code, r.stderr).toBe(0);
      return r.stdout.trim().split(" ");
    };
    expect(await complete("modelservice", "sys")).toEqual(["system-models"]);
    expect(await complete("modelservice", "models", "set-")).toEqual(["set-status"]);
    expect(await complete("modelservice", "models", "list", "--sta")).toEqual(["--status"]);
    expect(await complete("modelservice", "models", "list", "--status", "")).toEqual(["MODEL_STATUS_ENABLED", "MODEL_STATUS_DISABLED"]);
    expect(await complete("modelservice", "--output", "")).toEqual(["json", "table", "csv"]);
    const zsh = await ok("completion", "zsh");
    expect(zsh).toMatch(/^#compdef modelservice/);
    expect(zsh).toContain("'modelservice models list'");
    rmSync(dir, { recursive: true, force: true });
  });
});

describe("the installed bin", () => {
  it("runs through node_modules/.bin after npm install, and through npx", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cli-install-"));
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "cli-install-check", version: "1.0.0", private: true }));
    const npm = process.platform === "win32" ? "npm.cmd" : "npm";
    const install = await runFile(npm, ["install", "--offline", "--no-audit", "--no-fund", "--ignore-scripts", root], { cwd: dir, env: process.env });
    expect(install.code, install.stderr).toBe(0);
    const linked = join(dir, "node_modules/.bin/modelservice");
    const version = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }).version;
    const r = await runFile(linked, ["--version"], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(version);
    const list = await runFile(linked, ["models", "list", "--limit", "2"], { cwd: dir });
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual(await rest("/v1/models?limit=2"));
    rmSync(dir, { recursive: true, force: true });

    const npx = await runFile(process.platform === "win32" ? "npx.cmd" : "npx", ["--offline", "--no-install", "modelservice", "--version"], { cwd: root });
    expect(npx.code, npx.stderr).toBe(0);
    expect(npx.stdout.trim()).toBe(version);
  }, 120_000);
});

/** A command line run with a pseudo-terminal (util-linux `script`); what the terminal showed comes back as stdout. */
function onTerminal(commandLine: string): Promise<Result> {
  return runFile("/usr/bin/script", ["-qec", commandLine, "/dev/null"]);
}

const hasScript = existsSync("/usr/bin/script");

describe("import: no duplicates, failures that scripts see", slow, () => {
  it("re-importing an unchanged export is a no-op, models without an externalId included (the README's example)", async () => {
    const key = await service.token("ws_cli_roundtrip");
    const created = await cliWith({ MODELSERVICE_API_KEY: key }, "models", "create", "--name", "No external id", "--provider", "acme", "--family", "f");
    expect(created.code, created.stderr).toBe(0);
    const exported = await cliWith({ MODELSERVICE_API_KEY: key }, "models", "export");
    const dir = mkdtempSync(join(tmpdir(), "cli-roundtrip-"));
    const file = join(dir, "models.csv");
    writeFileSync(file, exported.stdout);
    // Counted as CSV records: catalog descriptions may hold line breaks.
    const rows = parse(exported.stdout, { columns: true }).length;
    for (const dryRun of [["--dry-run"], []]) {
      const r = await cliWith({ MODELSERVICE_API_KEY: key }, "models", "import", "--file", file, ...dryRun);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ createdCount: 0, updatedCount: 0, unchangedCount: rows, errors: [] });
    }
    // Into another workspace, the rows are created, and the CLI says why.
    const other = await cliWith({ MODELSERVICE_API_KEY: await service.token("ws_cli_elsewhere") }, "models", "import", "--file", file, "--dry-run");
    expect(other.code, other.stderr).toBe(0);
    expect(JSON.parse(other.stdout)).toMatchObject({ createdCount: 1, unmatchedIdCount: 1 });
    expect(other.stderr).toContain("note: 1 of the created rows carry the id of no model of this workspace");
    rmSync(dir, { recursive: true, force: true });
  });

  it("exits 5 with a summary line on stderr when rows are refused; no empty error table otherwise", async () => {
    const bad = await runFile(process.execPath, [bin, "models", "import", "--file", "-"], { input: "name,status\r\nCLI import ok,\r\nCLI import bad,NOPE\r\n" });
    expect(bad.code).toBe(5);
    expect(JSON.parse(bad.stdout)).toMatchObject({ createdCount: 1, unchangedCount: 0, errors: [{ row: 3, column: "status" }] });
    expect(bad.stderr).toBe('imported 2 rows: created 1, updated 0, unchanged 0, refused 1\nerror: 1 of 2 rows refused, see "errors" in the output (exit 5)\n');

    const good = await runFile(process.execPath, [bin, "models", "import", "--file", "-", "-o", "table", "--dry-run"], { input: "name\r\nCLI import table\r\n" });
    expect(good.code, good.stderr).toBe(0);
    expect(good.stdout).not.toMatch(/ROW|REASON/);
    expect(good.stdout).toContain("created_count: 1");
    expect(good.stderr).toContain("no errors");
  });

  it.skipIf(!hasScript)("shows a spinner with the row count while the import runs, not a bar stuck at 0%", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cli-import-tty-"));
    const file = join(dir, "models.csv");
    writeFileSync(file, "name\r\nSpin 1\r\nSpin 2\r\nSpin 3\r\n");
    const r = await onTerminal(`'${process.execPath}' '${bin}' models import --dry-run --file '${file}' > '${join(dir, "out.json")}'`);
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] importing 3 rows/);
    expect(r.stdout).not.toMatch(/0% \|/);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe("secrets off the command line", slow, () => {
  const create = (name: string, ...more: string[]) => ["models", "create", "--name", name, "--provider", "acme", "--family", "f", "--model-url", "https://api.example.com/v1", ...more];

  it("takes credentials from --token-file, --token-stdin or MODELSERVICE_CREDENTIALS_TOKEN; a flag still works with a warning", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cli-secret-"));
    const file = join(dir, "token");
    writeFileSync(file, "sk-from-file\n");
    const results = [
      await cli(...create("Secret file", "--token-file", file)),
      await runFile(process.execPath, [bin, ...create("Secret stdin", "--token-stdin")], { input: "sk-from-stdin\n" }),
      await cliWith({ MODELSERVICE_CREDENTIALS_TOKEN: "sk-from-env" }, ...create("Secret env")),
      await runFile(process.execPath, [bin, ...create("Secret keys", "--client-key-stdin", "--secret-key-file", file)], { input: "ck-from-stdin" }),
    ];
    for (const r of results) {
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toBe("");
      expect((JSON.parse(r.stdout) as { spec: { hasToken?: boolean; hasClientKey?: boolean } }).spec).toSatisfy((s: { hasToken?: boolean; hasClientKey?: boolean }) => s.hasToken === true || s.hasClientKey === true);
    }
    const flagged = await cli(...create("Secret flag", "--token", "sk-on-the-line"));
    expect(flagged.code).toBe(0);
    expect(flagged.stderr).toBe("warning: a secret given as --token ends up in shell history and ps; use --token-file, --token-stdin or MODELSERVICE_CREDENTIALS_TOKEN\n");
    const both = await runFile(process.execPath, [bin, ...create("Two stdin", "--token-stdin", "--client-key-stdin")], { input: "x" });
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/both read standard input/);
    rmSync(dir, { recursive: true, force: true });
  });

  it("takes the API key from --api-key-file or --api-key-stdin, and warns about --api-key", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cli-apikey-"));
    const file = join(dir, "key");
    writeFileSync(file, apiKey + "\n");
    const fromFile = await cliWith({ MODELSERVICE_API_KEY: undefined }, "--api-key-file", file, "models", "list", "--limit", "1");
    expect(fromFile.code, fromFile.stderr).toBe(0);
    expect(fromFile.stderr).toBe("");
    const fromStdin = await runFile(process.execPath, [bin, "models", "list", "--limit", "1", "--api-key-stdin"], { env: env({ MODELSERVICE_API_KEY: undefined }), input: apiKey });
    expect(fromStdin.code, fromStdin.stderr).toBe(0);
    const flagged = await cliWith({ MODELSERVICE_API_KEY: undefined }, "--api-key", apiKey, "models", "list", "--limit", "1");
    expect(flagged.code).toBe(0);
    expect(flagged.stderr).toMatch(/^warning: a secret given as --api-key ends up in shell history and ps; use --api-key-file, --api-key-stdin or MODELSERVICE_API_KEY\n$/);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe("errors that say how to fix them", slow, () => {
  it("names the ways to give a token, and says in words when one has expired or is invalid", async () => {
    const none = await cliWith({ MODELSERVICE_API_KEY: undefined }, "models", "list");
    expect(none.code).toBe(3);
    for (const word of ["--api-key", "MODELSERVICE_API_KEY", "modelservice token"]) expect(none.stderr).toContain(word);
    const expired = await cliWith({ MODELSERVICE_API_KEY: await service.token(workspace, { ttl: -60 }) }, "models", "list");
    expect(expired.code).toBe(3);
    expect(expired.stderr).toMatch(/^error: unauthenticated: the token has expired .*get a new one with `modelservice token/);
    const invalid = await cliWith({ MODELSERVICE_API_KEY: "not-a-jwt" }, "models", "list");
    expect(invalid.stderr).toMatch(/^error: unauthenticated: the token is not a valid token of this service .*get a new one/);
  });

  it("a bad --ttl is a usage error", async () => {
    const r = await cliWith({ MODELSERVICE_JWT_SECRET: jwtSecret, MODELSERVICE_DATA_DIR: tmpdir() }, "token", "--workspace", "ws_x", "--ttl", "forever");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--ttl");
    expect(r.stdout).toBe("");
  });

  it("create without a name names the flag; price flags name their unit", async () => {
    const r = await cli("models", "create", "--provider", "acme", "--family", "f");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: invalid_argument: .*missing --name/);
    const help = (await ok("models", "create", "--help")).replace(/\s+/g, " ");
    expect(help).toContain("--input-price-per-million-tokens <cents>");
    expect(help).toContain("--input-price-per-million-tokens-usd takes exact dollars");
    expect(help).toContain("--input-price-per-million-tokens-usd <dollars>");
  });

  it("deleting an already deleted model says so", async () => {
    const id = (await okJson<ModelJson>("models", "create", "--name", "Delete twice", "--provider", "acme", "--family", "f")).metadata.id;
    expect((await cli("models", "delete", id)).code).toBe(0);
    const again = await cli("models", "delete", id);
    expect(again.code).toBe(4);
    expect(again.stderr).toBe(`error: not_found: model "${id}" is already deleted; \`modelservice models undelete ${id}\` restores it\n`);
  });
});

describe("ids, tables and completion", slow, () => {
  it("takes the id as an argument as well as --id", async () => {
    const id = (await okJson<{ items: ModelJson[] }>("models", "list", "--limit", "1")).items[0]!.metadata.id;
    expect(await okJson("models", "get", id)).toEqual(await rest(`/v1/models/${id}`));
    expect((await okJson<ModelJson>("models", "disable", id)).spec.status).toBe("MODEL_STATUS_DISABLED");
    expect((await okJson<ModelJson>("models", "enable", id, "--id", id)).spec.status).toBe("MODEL_STATUS_ENABLED");
    const two = await cli("models", "get", id, "--id", "model_01ZZZZZZZZZZZZZZZZZZZZZZZZ");
    expect(two.code).toBe(2);
  });

  it("keeps stdout to the rows: total and cursor on stderr", async () => {
    const r = await cli("models", "list", "--limit", "2", "-o", "table");
    expect(r.code).toBe(0);
    expect(r.stdout.trimEnd().split("\n")).toHaveLength(3);
    expect(r.stderr).toMatch(/^total: \d+\nnext_cursor: \S+\n$/);
  });

  it.skipIf(!hasScript)("fits -o table to the terminal's width", async () => {
    const name = "A model with a rather long name that would not fit a narrow terminal";
    await okJson("models", "create", "--name", name, "--provider", "acme", "--family", "narrow-terminal-family", "--labels", "fit=yes");
    const r = await onTerminal(`stty cols 80; '${process.execPath}' '${bin}' models list --labels fit=yes -o table`);
    expect(r.code, r.stdout).toBe(0);
    const lines = r.stdout.split(/\r?\n/).filter((l) => l.startsWith("ID") || l.startsWith("model_"));
    expect(lines).toHaveLength(2);
    for (const line of lines) expect([...line].length).toBeLessThanOrEqual(80);
    expect(lines[1]).toMatch(/^model_[0-9A-Z]{26} {2}A mo\S*… /);
    expect(lines[1]).not.toContain(name);
  });

  it("completes `npx modelservice`, flag values (-o) and ids from the server in bash", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cli-complete-"));
    const script = join(dir, "modelservice.bash");
    writeFileSync(script, await ok("completion", "bash"));
    // `modelservice` on the PATH, as after npm install -g.
    writeFileSync(join(dir, "modelservice"), `#!/bin/sh\nexec '${process.execPath}' '${bin}' "$@"\n`, { mode: 0o755 });
    const complete = async (fn: string, ...words: string[]) => {
      const r = await runFile("bash", ["-c", `source ${script}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; ${fn}; echo "\${COMPREPLY[*]}"`], {
        env: env({ PATH: `${dir}:${process.env.PATH}` }),
      });
      expect(r.code, r.stderr).toBe(0);
      return r.stdout.trim().split(" ");
    };
    expect(await complete("_modelservice_npx", "npx", "modelservice", "models", "set-")).toEqual(["set-status"]);
    expect(await complete("_modelservice_npx", "npx", "--no-install", "modelservice", "models", "list", "-o", "")).toEqual(["json", "table", "csv"]);
    expect(await complete("_modelservice", "modelservice", "-o", "t")).toEqual(["table"]);
    const ids = (await okJson<{ items: ModelJson[] }>("models", "list", "--limit", "200")).items.map((m) => m.metadata.id);
    expect(await complete("_modelservice", "modelservice", "models", "get", "")).toEqual(ids);
    const prefix = ids[0]!.slice(0, -1);
    const completed = await complete("_modelservice", "modelservice", "models", "delete", "--id", prefix);
    expect(completed).toContain(ids[0]);
    expect(completed).toEqual(ids.filter((id) => id.startsWith(prefix)));
    rmSync(dir, { recursive: true, force: true });
  });

  it.skipIf(!existsSync("/usr/bin/zsh"))("completes in zsh, npx and flag values included", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cli-zsh-"));
    const script = join(dir, "_modelservice");
    writeFileSync(script, await ok("completion", "zsh"));
    // compsys stand-ins: compadd prints the candidates it is given.
    const complete = async (...words: string[]) => {
      const line = words.map((w) => `'${w}'`).join(" ");
      const r = await runFile("zsh", ["-fc", `compdef() {}; _files() { print files; }; compadd() { shift; print -r -- "$*"; }; source ${script}; words=(${line}); CURRENT=${words.length}; _modelservice`]);
      expect(r.code, r.stderr).toBe(0);
      return r.stdout.trim().split(" ");
    };
    expect(await complete("npx", "modelservice", "models", "list", "-o", "")).toEqual(["json", "table", "csv"]);
    expect(await complete("modelservice", "models", "list", "--status", "")).toEqual(["MODEL_STATUS_ENABLED", "MODEL_STATUS_DISABLED"]);
    expect(await complete("modelservice", "models", "import", "--file", "")).toEqual(["files"]);
    rmSync(dir, { recursive: true, force: true });
  });

  it.skipIf(!existsSync("/usr/bin/fish"))("completes in fish too, names beside ids", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cli-fish-"));
    const script = join(dir, "modelservice.fish");
    writeFileSync(script, await ok("completion", "fish"));
    writeFileSync(join(dir, "modelservice"), `#!/bin/sh\nexec '${process.execPath}' '${bin}' "$@"\n`, { mode: 0o755 });
    const complete = async (line: string) => {
      const r = await runFile("fish", ["-c", `source ${script}; complete -C ${JSON.stringify(line)}`], { env: env({ PATH: `${dir}:${process.env.PATH}` }) });
      expect(r.code, r.stderr).toBe(0);
      return r.stdout.trim().split("\n");
    };
    expect(await complete("npx modelservice models set-")).toEqual(["set-status"]);
    expect((await complete("modelservice models list -o ")).sort()).toEqual(["csv", "json", "table"]);
    const first = (await okJson<{ items: ModelJson[] }>("models", "list", "--limit", "1")).items[0]!.metadata;
    expect(await complete(`modelservice models get ${first.id}`)).toEqual([`${first.id}\t${first.name}`]);
    rmSync(dir, { recursive: true, force: true });
  });
});
