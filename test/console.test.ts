import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consoleFiles } from "../src/wire/console/console-files.js";
import { launchChromium, staticConsoleSite, type StaticSite } from "./support/browser.js";
import { startTestService, type TestService } from "./support/service.js";

/*
 * The web console end to end: the real service, the built console, real
 * headless Chromium driven by playwright-core. The service allows exactly
 * one other origin (a static site serving the same console), so the CORS
 * cases run against the same server.
 */

interface ModelJson {
  metadata: { id: string; name: string; etag: string; deleteTime?: string };
  spec: { status: string; hasToken: boolean; credentialFingerprint?: string; provider?: string; inputPricePerMillionTokensUsd?: string };
}
interface ListJson {
  items: ModelJson[];
  pagination: { nextCursor?: string; total: number };
}

const ws = "ws_console";
const artifacts = join(import.meta.dirname, "artifacts");

let service: TestService;
let token: string;
let browser: Browser;
let allowedSite: StaticSite;
let refusedSite: StaticSite;
/** Uncaught exceptions and CSP refusals, from every page of every test. */
const pageProblems: string[] = [];

async function rest<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(service.url + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return JSON.parse(text) as T;
}

async function newPage(options: { viewport?: { width: number; height: number } } = {}): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: options.viewport ?? { width: 1280, height: 900 } });
  // A step that cannot happen fails with its locator named, well before the test's own timeout.
  context.setDefaultTimeout(8_000);
  const page = await context.newPage();
  page.on("pageerror", (e) => pageProblems.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) pageProblems.push(`csp: ${m.text()}`);
  });
  return { context, page };
}

/** Opens the console (at the service unless another origin is given), signs in with the token and waits for the models. */
async function signIn(page: Page, withToken = token, origin = service.url): Promise<void> {
  await page.goto(`${origin}/console`);
  await page.getByLabel("Access token").fill(withToken);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator("#model-count").waitFor();
}

const shownCount = async (page: Page) => Number(/^(\d+)/.exec((await page.locator("#model-count").textContent()) ?? "")?.[1]);

async function createModel(name: string, secret?: string): Promise<ModelJson> {
  return rest<ModelJson>("POST", "/v1/models", {
    metadata: { name },
    spec: { provider: "acme", family: "acme-1", modelUrl: "https://api.acme.example/v1", ...(secret ? { credentials: { token: secret } } : {}) },
  });
}

/** A raw GET, with the exact path (no URL normalisation) and headers that fetch would not send. */
function rawGet(url: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; type?: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, type: res.headers["content-type"], body }));
    });
    req.on("error", reject);
    req.end();
  });
}

beforeAll(async () => {
  allowedSite = await staticConsoleSite(() => service.url);
  refusedSite = await staticConsoleSite(() => service.url);
  service = await startTestService({ MODELSERVICE_CORS_ORIGINS: allowedSite.origin });
  token = await service.token(ws);
  browser = await launchChromium();
  mkdirSync(artifacts, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  await Promise.all([service?.dispose(), allowedSite?.close(), refusedSite?.close()]);
});

describe("the console in Chromium", () => {
  it("signs in with a minted token and shows pagination.total, page by page", async () => {
    const { context, page } = await newPage();
    await signIn(page);
    const { pagination } = await rest<ListJson>("GET", "/v1/models?limit=1");
    expect(await shownCount(page)).toBe(pagination.total);
    expect(await page.locator("table.models tbody tr").count()).toBe(25);
    await expect.poll(() => page.locator("figcaption").textContent()).toMatch(/\d+ enabled models plotted/);
    await page.screenshot({ path: join(artifacts, "console-catalog.png"), fullPage: true });

    await page.getByRole("button", { name: "Next page" }).click();
    await expect.poll(() => page.locator("#catalog-summary").textContent()).toContain("showing 26–50");
    await page.getByRole("button", { name: "Previous page" }).click();
    await expect.poll(() => page.locator("#catalog-summary").textContent()).toContain("showing 1–25");
    // The token lives in this tab's sessionStorage only.
    expect(await page.evaluate('sessionStorage.getItem("modelservice.token")')).toBe(token);
    expect(await page.evaluate("localStorage.length")).toBe(0);
    await context.close();
  });

  it("search, provider filter and sort run on the service", async () => {
    const { context, page } = await newPage();
    await signIn(page);
    const all = await shownCount(page);
    await page.getByRole("searchbox", { name: "Search" }).fill("claude");
    const claude = await rest<ListJson>("GET", "/v1/models?query=claude&limit=1");
    await expect.poll(() => shownCount(page)).toBe(claude.pagination.total);
    expect(claude.pagination.total).toBeLessThan(all);
    for (const row of await page.locator("table.models tbody tr").allTextContents()) expect(row.toLowerCase()).toContain("claude");

    await page.getByRole("searchbox", { name: "Search" }).fill("");
    await page.getByLabel("Provider").selectOption("openai");
    const openai = await rest<ListJson>("GET", `/v1/models?limit=1&filter=${encodeURIComponent('spec.provider = "openai"')}`);
    await expect.poll(() => shownCount(page)).toBe(openai.pagination.total);
    await page.getByLabel("Sort by").selectOption({ label: "Input price, highest first" });
    const dearest = await rest<ListJson>(
      "GET",
      `/v1/models?limit=1&filter=${encodeURIComponent('spec.provider = "openai"')}&orderBy=${encodeURIComponent("spec.inputPricePerMillionTokens desc, metadata.name")}`,
    );
    await expect.poll(() => page.locator("table.models tbody tr th").first().textContent()).toContain(dearest.items[0].metadata.name);
    await context.close();
  });

  it("disables a model with its switch, and REST sees it disabled", async () => {
    const { context, page } = await newPage();
    await signIn(page);
    const name = (await page.locator("table.models tbody tr .model-name").first().textContent()) ?? "";
    const toggle = page.getByRole("switch", { name: `${name} enabled`, exact: true });
    expect(await toggle.getAttribute("aria-checked")).toBe("true");
    await toggle.click();
    await expect.poll(() => toggle.getAttribute("aria-checked")).toBe("false");
    expect(await toggle.textContent()).toContain("Disabled");
    const disabled = await rest<ListJson>("GET", "/v1/models?status=MODEL_STATUS_DISABLED&limit=1000");
    expect(disabled.items.map((m) => m.metadata.name)).toContain(name);

    await page.getByLabel("Status").selectOption("disabled");
    await expect.poll(() => shownCount(page)).toBe(disabled.pagination.total);
    await toggle.click();
    await expect.poll(() => toggle.getAttribute("aria-checked")).toBe("true");
    const after = await rest<ListJson>("GET", "/v1/models?status=MODEL_STATUS_DISABLED&limit=1000");
    expect(after.items.map((m) => m.metadata.name)).not.toContain(name);
    await context.close();
  });

  it("creates a custom model whose secret never reaches the page's DOM or any response", async () => {
    const secret = `sk-console-${crypto.randomUUID()}`;
    const { context, page } = await newPage();
    const bodies: Array<Promise<string>> = [];
    // The WatchModels stream never ends, so its body never resolves (its models are GetModel's, secret-free: test/watch-events.test.ts).
    page.on("response", (r) => r.url().endsWith("/WatchModels") || bodies.push(r.body().then((b) => b.toString("latin1"), () => "")));
    await signIn(page);
    await page.getByRole("link", { name: "New custom model" }).click();
    await page.getByLabel("Name", { exact: true }).fill("Console GPT");
    await page.getByLabel("External ID").fill("console-gpt");
    await page.getByLabel("Provider").fill("openai");
    await page.getByLabel("Family").fill("gpt-4o");
    await page.getByLabel("Endpoint URL").fill("https://api.openai.com/v1");
    await page.getByLabel("Input price ($ per million tokens)").fill("2.5");
    await page.getByLabel("Output price ($ per million tokens)").fill("10");
    await page.getByLabel("Context window (max input tokens)").fill("128000");
    await page.getByLabel("Labels").fill("env=test, team=console");
    const secretInput = page.getByLabel("Token", { exact: true });
    expect(await secretInput.getAttribute("type")).toBe("password");
    await secretInput.fill(secret);
    await page.getByRole("button", { name: "Create model" }).click();

    await expect.poll(() => page.getByRole("status").first().textContent()).toContain("Created “Console GPT”");
    const state = (await page.locator("#credential-state").textContent()) ?? "";
    expect(state).toMatch(/^Token: set · fingerprint fp_[0-9a-f]+/);
    expect(await page.getByLabel("Token", { exact: true }).inputValue()).toBe("");
    const id = /\/console\/models\/(model_[0-9A-Z]+)$/.exec(page.url())?.[1] ?? "";
    const stored = await rest<ModelJson>("GET", `/v1/models/${id}`);
    expect(stored.spec.hasToken).toBe(true);
    expect(state).toContain(stored.spec.credentialFingerprint);
    expect(stored.spec.inputPricePerMillionTokensUsd).toBe("2.5");

    // The catalog now lists it, and the page still holds no secret.
    await page.getByRole("link", { name: "All models" }).click();
    await page.getByRole("searchbox", { name: "Search" }).fill("Console GPT");
    await expect.poll(() => page.locator("table.models tbody tr").count()).toBe(1);
    expect(await page.content()).not.toContain(secret);
    const responses = await Promise.all(bodies);
    expect(responses.length).toBeGreaterThan(5);
    for (const body of responses) {
      expect(body).not.toContain(secret);
      expect(body).not.toContain(Buffer.from(secret).toString("base64"));
    }
    await context.close();
  });

  it("duplicates, deletes and undeletes a custom model", async () => {
    const original = await createModel("Dup source", "sk-dup-secret");
    const { context, page } = await newPage();
    await signIn(page);
    await page.getByRole("searchbox", { name: "Search" }).fill("Dup source");
    await expect.poll(() => shownCount(page)).toBe(1);
    await page.getByRole("button", { name: "Duplicate Dup source" }).click();
    await expect.poll(() => page.getByRole("status").first().textContent()).toContain("Created “Dup source (copy)”");
    await expect.poll(() => shownCount(page)).toBe(2);
    const copies = await rest<ListJson>("GET", `/v1/models?query=${encodeURIComponent("Dup source")}`);
    const copy = copies.items.find((m) => m.metadata.id !== original.metadata.id);
    expect(copy?.metadata.name).toBe("Dup source (copy)");
    expect(copy?.spec.hasToken).toBe(false);

    await page.getByRole("button", { name: "Delete Dup source (copy)" }).click();
    await expect.poll(() => page.getByRole("status").first().textContent()).toContain("Deleted “Dup source (copy)”");
    await expect.poll(() => shownCount(page)).toBe(1);
    expect((await rest<ModelJson>("GET", `/v1/models/${copy?.metadata.id}`)).metadata.deleteTime).toBeDefined();

    await page.getByRole("button", { name: "Undo" }).click();
    await expect.poll(() => page.getByRole("status").first().textContent()).toContain("Restored “Dup source (copy)”");
    await expect.poll(() => shownCount(page)).toBe(2);
    expect((await rest<ModelJson>("GET", `/v1/models/${copy?.metadata.id}`)).metadata.deleteTime).toBeUndefined();

    // Deleted models are listed with "Show deleted", with Undelete.
    await page.getByRole("button", { name: "Delete Dup source (copy)" }).click();
    await expect.poll(() => shownCount(page)).toBe(1);
    await page.getByLabel("Show deleted").check();
    await expect.poll(() => shownCount(page)).toBe(2);
    await page.getByRole("button", { name: "Undelete Dup source (copy)" }).click();
    await expect.poll(() => page.getByRole("status").first().textContent()).toContain("Restored");
    expect((await rest<ModelJson>("GET", `/v1/models/${copy?.metadata.id}`)).metadata.deleteTime).toBeUndefined();
    await context.close();
  });

  it("says in words when the model changed meanwhile (etag conflict), then saves after a reload", async () => {
    const model = await createModel("Etag model");
    const { context, page } = await newPage();
    await signIn(page);
    await page.goto(`${service.url}/console/models/${model.metadata.id}`);
    await page.getByLabel("Family").waitFor();
    expect(await page.getByLabel("Name", { exact: true }).inputValue()).toBe("Etag model");

    // Someone else renames it over REST while the form is open.
    await rest("PATCH", `/v1/models/${model.metadata.id}?updateMask=metadata.name`, { metadata: { name: "Renamed elsewhere" } });
    await page.getByLabel("Family").fill("acme-2");
    await page.getByRole("button", { name: "Save changes" }).click();
    const alert = page.getByRole("alert");
    await expect.poll(() => alert.textContent()).toContain("changed by someone else");
    expect(await alert.textContent()).toContain("Reload");
    expect((await rest<ModelJson>("GET", `/v1/models/${model.metadata.id}`)).metadata.name).toBe("Renamed elsewhere");

    await page.getByRole("button", { name: "Reload the model" }).click();
    await expect.poll(() => page.getByLabel("Name", { exact: true }).inputValue()).toBe("Renamed elsewhere");
    await page.getByLabel("Family").fill("acme-2");
    await page.getByRole("button", { name: "Save changes" }).click();
    await expect.poll(() => page.getByRole("status").first().textContent()).toContain("Saved “Renamed elsewhere”");
    const saved = await rest<ModelJson & { spec: { family: string } }>("GET", `/v1/models/${model.metadata.id}`);
    expect(saved.spec.family).toBe("acme-2");
    expect(saved.metadata.name).toBe("Renamed elsewhere");
    await context.close();
  });

  it("shows field errors from the service beside the inputs", async () => {
    const { context, page } = await newPage();
    await signIn(page);
    await page.goto(`${service.url}/console/models/new`);
    await page.getByLabel("Name", { exact: true }).fill("Bad model");
    await page.getByLabel("Endpoint URL").fill("ftp://files.example");
    await page.getByRole("button", { name: "Create model" }).click();
    await expect.poll(() => page.getByRole("alert").first().textContent()).toContain("Some fields need fixing");
    expect(await page.getByLabel("Endpoint URL").getAttribute("aria-invalid")).toBe("true");
    expect(await page.locator("#modelUrl-error").textContent()).toContain("https://");
    await context.close();
  });

  it("an expired token asks for a new one on top of the page, in words, and the page carries on", async () => {
    const { context, page } = await newPage();
    await signIn(page);
    const expired = await service.token(ws, { ttl: -60 });
    await page.evaluate(`sessionStorage.setItem("modelservice.token", ${JSON.stringify(expired)})`);
    await page.reload();
    const dialog = page.getByRole("dialog", { name: "Sign in again" });
    await dialog.getByLabel("Access token").waitFor();
    const said = (await dialog.getByRole("alert").textContent()) ?? "";
    expect(said).toContain("Your access token has expired.");
    expect(said).not.toMatch(/jwt_expired|invalid token/);
    expect(await page.evaluate('sessionStorage.getItem("modelservice.token")')).toBeNull();

    await dialog.getByLabel("Access token").fill(token);
    await dialog.getByRole("button", { name: "Sign in" }).click();
    await page.locator("#model-count").waitFor();
    expect(await page.getByRole("dialog").count()).toBe(0);
    expect(await page.evaluate('sessionStorage.getItem("modelservice.token")')).toBe(token);
    await context.close();
  });

  it("fits a 375 px wide screen without scrolling sideways", async () => {
    const { context, page } = await newPage({ viewport: { width: 375, height: 812 } });
    await signIn(page);
    expect(await page.locator("table.models tbody tr").count()).toBe(25);
    const widths = await page.evaluate<{ scroll: number; body: number; view: number }>(
      "({ scroll: document.documentElement.scrollWidth, body: document.body.scrollWidth, view: innerWidth })",
    );
    expect(widths.scroll).toBeLessThanOrEqual(widths.view);
    expect(widths.body).toBeLessThanOrEqual(widths.view);
    // Every switch is still reachable and labelled.
    expect(await page.getByRole("switch").count()).toBe(25);
    await page.screenshot({ path: join(artifacts, "console-catalog-375.png") });
    await context.close();
  });

  it("is usable from the keyboard: search, then the first switch", async () => {
    const { context, page } = await newPage();
    await signIn(page);
    await page.getByRole("searchbox", { name: "Search" }).focus();
    await page.keyboard.type("gemini");
    const gemini = await rest<ListJson>("GET", "/v1/models?query=gemini&limit=1");
    await expect.poll(() => shownCount(page)).toBe(gemini.pagination.total);
    const first = page.getByRole("switch").first();
    await first.focus();
    const before = await first.getAttribute("aria-checked");
    await page.keyboard.press("Space");
    await expect.poll(() => first.getAttribute("aria-checked")).not.toBe(before);
    await page.keyboard.press("Enter");
    await expect.poll(() => first.getAttribute("aria-checked")).toBe(before);
    await context.close();
  });
});

describe("CORS for a console hosted on another origin", () => {
  it("calls the service from an allowed origin", async () => {
    const { context, page } = await newPage();
    await signIn(page, token, allowedSite.origin);
    const { pagination } = await rest<ListJson>("GET", "/v1/models?limit=1");
    expect(await shownCount(page)).toBe(pagination.total);
    await context.close();
  });

  it("lets a Stainless SDK (the Cadenya SDKs) call REST from an allowed origin with its own headers", async () => {
    const { context, page } = await newPage();
    await page.goto(`${allowedSite.origin}/console`);
    // The headers a Stainless-generated TypeScript SDK sends from a browser, on every request and on writes.
    const sdkHeaders = {
      authorization: `Bearer ${token}`,
      accept: "application/json",
      "content-type": "application/json",
      "X-Stainless-Lang": "js",
      "X-Stainless-Package-Version": "0.1.0-alpha.1",
      "X-Stainless-OS": "Unknown",
      "X-Stainless-Arch": "unknown",
      "X-Stainless-Runtime": "browser:chrome",
      "X-Stainless-Runtime-Version": "140.0.0",
      "X-Stainless-Retry-Count": "0",
      "X-Stainless-Timeout": "60",
      "Idempotency-Key": `stainless-node-retry-${crypto.randomUUID()}`,
    };
    const calls = await page.evaluate(
      async ({ url, headers }) => {
        const list = await fetch(`${url}/v1/models?limit=1`, { headers });
        const created = await fetch(`${url}/v1/models`, {
          method: "POST",
          headers,
          body: JSON.stringify({ metadata: { name: "From a Stainless SDK" }, spec: { provider: "acme" } }),
        });
        // A header no SDK sends is still refused: the preflight fails and fetch never gets an answer.
        const other = await fetch(`${url}/v1/models?limit=1`, { headers: { ...headers, "X-Not-Allowed": "1" } }).then(
          (r) => `answered ${r.status}`,
          (e: Error) => e.name,
        );
        return { list: list.status, listed: ((await list.json()) as { items: unknown[] }).items.length, created: created.status, other };
      },
      { url: service.url, headers: sdkHeaders },
    );
    expect(calls).toEqual({ list: 200, listed: 1, created: 200, other: "TypeError" });
    expect((await rest<ListJson>("GET", `/v1/models?query=${encodeURIComponent("From a Stainless SDK")}`)).pagination.total).toBe(1);
    await context.close();
  });

  it("cannot call it from an origin the service does not allow", async () => {
    const { context, page } = await newPage();
    const messages: string[] = [];
    page.on("console", (m) => messages.push(m.text()));
    await page.goto(`${refusedSite.origin}/console`);
    await page.getByLabel("Access token").fill(token);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.getByRole("alert").first().textContent()).toContain("Could not reach the service");
    expect(await page.locator("#model-count").count()).toBe(0);
    expect(messages.some((m) => m.includes("CORS policy"))).toBe(true);
    await context.close();
  });
});

describe("dev mode", () => {
  it("offers the dev workspace's token to the console on this machine, and to nobody else", async () => {
    const dev = await startTestService({ MODELSERVICE_JWT_SECRET: "" });
    try {
      const { context, page } = await newPage();
      await page.goto(`${dev.url}/console`);
      await page.getByRole("button", { name: "Use dev workspace token" }).click();
      await page.locator("#model-count").waitFor();
      expect(await page.locator("header").textContent()).toContain("Workspace ws_dev");
      await context.close();

      const res = await fetch(`${dev.url}/console/dev-token`);
      expect(res.status).toBe(200);
      expect(res.headers.get("cache-control")).toBe("no-store");
      expect(res.headers.get("access-control-allow-origin")).toBeNull();
      const { token: devToken, workspaceId } = (await res.json()) as { token: string; workspaceId: string };
      expect(workspaceId).toBe("ws_dev");
      const list = await fetch(`${dev.url}/v1/models?limit=1`, { headers: { authorization: `Bearer ${devToken}` } });
      expect(list.status).toBe(200);

      const hostile: Array<Record<string, string>> = [
        { origin: "http://evil.example" },
        { "sec-fetch-site": "cross-site" },
        { host: "evil.example" },
        { "x-forwarded-for": "203.0.113.7" },
      ];
      for (const headers of hostile) {
        const refused = await rawGet(dev.url, "/console/dev-token", headers);
        expect(refused.status, JSON.stringify(headers)).toBe(403);
        expect(refused.body).not.toMatch(/eyJ/);
      }
    } finally {
      await dev.dispose();
    }
    // Not in dev mode: no such endpoint, and the page offers nothing.
    expect((await fetch(`${service.url}/console/dev-token`)).status).toBe(404);
    const { context, page } = await newPage();
    await page.goto(`${service.url}/console`);
    await page.getByLabel("Access token").waitFor();
    expect(await page.getByRole("button", { name: "Use dev workspace token" }).count()).toBe(0);
    await context.close();
  });
});

describe("the console's files", () => {
  it("serves the page, its hashed assets and client routes with the right headers", async () => {
    for (const path of ["/console", "/console/", "/console/models/new", "/console/models/model_01ABC"]) {
      const res = await fetch(service.url + path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(res.headers.get("cache-control")).toBe("no-cache");
      expect(res.headers.get("content-security-policy")).toContain("default-src 'self'");
      expect(await res.text()).toContain('<div id="app">');
    }
    const html = await (await fetch(`${service.url}/console`)).text();
    const script = /src="(\/console\/assets\/[^"]+\.js)"/.exec(html)?.[1] ?? "";
    const style = /href="(\/console\/assets\/[^"]+\.css)"/.exec(html)?.[1] ?? "";
    for (const [path, type] of [
      [script, "text/javascript; charset=utf-8"],
      [style, "text/css; charset=utf-8"],
    ]) {
      const res = await fetch(service.url + path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get("content-type")).toBe(type);
      expect(res.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    }
    const head = await fetch(service.url + script, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe("");
  });

  it("answers 404 for missing assets and never serves a file outside dist/console", async () => {
    for (const path of [
      "/console/assets/missing.js",
      "/console/assets/missing",
      "/console/missing.png",
      "/console/../package.json",
      "/console/../../package.json",
      "/console/%2e%2e/%2e%2e/package.json",
      "/console/..%2f..%2fpackage.json",
      "/console/assets/..%2f..%2f..%2fpackage.json",
      "/console/assets/%2e%2e%5c%2e%2e%5cpackage.json",
      "/console/..\\..\\package.json",
      "/console/%00/../package.json",
      "/console/index.html/../../../src/config.ts",
    ]) {
      const res = await rawGet(service.url, path);
      expect(res.status, path).toBe(404);
      expect(res.body, path).not.toContain('"name": "modelservice"');
      expect(res.body, path).not.toContain("loadConfig");
    }
    const etc = await rawGet(service.url, "/console/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd");
    expect(etc.body).not.toContain("root:");
  });

  it("says what to run when the console was never built (503)", async () => {
    const empty = mkdtempSync(join(tmpdir(), "console-unbuilt-"));
    const files = consoleFiles(empty);
    const server = createServer((req, res) => {
      if (!files((req.url ?? "/").split("?", 1)[0], res)) res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/console`);
      expect(res.status).toBe(503);
      expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
      expect(await res.text()).toContain("npm run build");
    } finally {
      await new Promise((resolve) => server.close(resolve));
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

it("raised no uncaught exception and no Content-Security-Policy refusal on any page", () => {
  expect(pageProblems).toEqual([]);
});
