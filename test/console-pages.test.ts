import { readFileSync } from "node:fs";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "./support/browser.js";
import { consolePage, restClient, shownCount, signInAt, type ListJson, type ModelJson } from "./support/console-page.js";
import { startTestService, type TestService } from "./support/service.js";

/*
 * The console's model pages, its URL, bulk actions, CSV import and export,
 * and its forms, in headless Chromium against the real service.
 */

const ws = "ws_console_pages";
let service: TestService;
let token: string;
let browser: Browser;
const problems: string[] = [];
const rest = restClient(
  () => service.url,
  () => token,
);

async function customModel(name: string, extra: Record<string, unknown> = {}): Promise<ModelJson> {
  return rest<ModelJson>("POST", "/v1/models", { metadata: { name }, spec: { provider: "acme", family: "acme-1", ...extra } });
}

/** The value of a fact ("Catalog ID", "ETag", …) in the model page's fact list. */
async function fact(page: Page, term: string): Promise<string> {
  const dd = page.locator("dl.facts div").filter({ has: page.locator("dt", { hasText: new RegExp(`^${term}$`) }) }).locator("dd");
  return (await dd.textContent()) ?? "";
}

beforeAll(async () => {
  service = await startTestService();
  token = await service.token(ws);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await service?.dispose();
});

describe("every model has a page", () => {
  it("a catalog model: View, not Edit; read-only fields; every fact; labels saved with their diff in the history", async () => {
    const { items } = await rest<ListJson>("GET", `/v1/models?limit=1000&query=${encodeURIComponent("claude")}`);
    const catalog = items.find((m) => m.metadata.origin === "MODEL_ORIGIN_SYSTEM" && m.spec.cachedInputPricePerMillionTokensUsd !== undefined);
    expect(catalog, "a catalog model with a cached input price").toBeDefined();
    const { context, page } = await consolePage(browser, problems);
    await signInAt(page, `${service.url}/console?q=${encodeURIComponent(catalog!.metadata.name)}`, token);
    const name = catalog!.metadata.name;
    expect(await page.getByRole("link", { name: `Edit ${name}`, exact: true }).count()).toBe(0);
    await page.getByRole("link", { name: `View ${name}`, exact: true }).click();

    await expect.poll(() => page.locator("#form-title").textContent()).toBe(`View “${name}”`);
    expect(await page.getByLabel("Name", { exact: true }).getAttribute("readonly")).not.toBeNull();
    expect(await page.getByLabel("Provider").getAttribute("readonly")).not.toBeNull();
    expect(await page.getByLabel("Labels").getAttribute("readonly")).toBeNull();
    expect(await page.getByLabel("Token", { exact: true }).count()).toBe(0);
    const stored = await rest<ModelJson>("GET", `/v1/models/${catalog!.metadata.id}`);
    expect(await fact(page, "Catalog ID")).toBe(stored.metadata.catalogId);
    expect(await fact(page, "ETag")).toBe(stored.metadata.etag);
    expect(await fact(page, "ID")).toBe(stored.metadata.id);
    expect(await fact(page, "Cached input price")).toContain(`$${stored.spec.cachedInputPricePerMillionTokensUsd}`);
    expect(await fact(page, "Created")).not.toBe("");
    expect(await fact(page, "Updated")).not.toBe("");
    expect((stored.spec.capabilities ?? []).length).toBeGreaterThan(0);
    expect(await fact(page, "Capabilities")).not.toBe("None listed");

    await page.getByLabel("Labels").fill("tier=gold");
    await page.getByRole("button", { name: "Save labels" }).click();
    await expect.poll(() => page.getByRole("status").first().textContent()).toContain("Saved");
    const labelled = await rest<ModelJson>("GET", `/v1/models/${catalog!.metadata.id}`);
    expect(labelled.metadata.labels).toEqual({ tier: "gold" });
    await expect.poll(() => fact(page, "ETag")).toBe(labelled.metadata.etag);
    // The history, from ListModelRevisions: the newest revision names the field, before and after.
    const revisions = await rest<{ items: Array<{ changes: Array<{ field: string; newValue?: string }> }> }>(
      "GET",
      `/v1/models/${catalog!.metadata.id}/revisions`,
    );
    const change = revisions.items[0].changes.find((c) => c.field === "metadata.labels");
    expect(change?.newValue).toContain("gold");
    const row = page.locator(".revision").first().locator("tbody tr", { has: page.locator("th", { hasText: "metadata.labels" }) });
    await expect.poll(() => row.locator("td.new").textContent()).toBe(change?.newValue);
    await context.close();
  });

  it("a catalog model's page shows its price breakdown with tiers, its lifecycle and source", async () => {
    const { items } = await rest<ListJson>("GET", `/v1/models?limit=1000&filter=${encodeURIComponent("spec.lifecycle.stage:*")}`);
    const tiered = items.find((m) => ((m.spec as { pricing?: { contextTiers?: unknown[] } }).pricing?.contextTiers ?? []).length > 0);
    expect(tiered, "a catalog model with context tiers and a lifecycle").toBeDefined();
    const stored = tiered as unknown as { metadata: { id: string }; spec: { pricing: { base: Record<string, string>; contextTiers: Array<{ aboveInputTokens: string; prices: Record<string, string> }> }; source: { url: string; dataVersion: string } } };
    const { context, page } = await consolePage(browser, problems);
    await signInAt(page, `${service.url}/console/models/${stored.metadata.id}`, token, "#family");
    const table = page.getByRole("table", { name: "Prices in US dollars per million tokens" });
    const input = table.locator("tbody tr", { has: page.locator("th", { hasText: /^Input$/ }) }).locator("td");
    await expect.poll(() => input.first().textContent()).toBe(`$${stored.spec.pricing.base.inputUsdPerMtok}`);
    const tier = stored.spec.pricing.contextTiers[0]!;
    expect(await table.locator("thead th").nth(2).textContent()).toContain("input tokens");
    expect(await input.nth(1).textContent()).toBe(`$${tier.prices.inputUsdPerMtok ?? stored.spec.pricing.base.inputUsdPerMtok}`);
    const facts = page.getByRole("definition").filter({ hasText: stored.spec.source.dataVersion });
    expect(await facts.locator("a").getAttribute("href")).toBe(stored.spec.source.url);
    expect(await page.locator("dl[aria-label='Lifecycle and source'] dt", { hasText: "Lifecycle" }).count()).toBe(1);
    await context.close();
  });

  it("a custom model a read-only token may not change: View, no save, every field read-only", async () => {
    const model = await customModel("Read-only custom");
    const reader = await service.token(ws, { scope: "models:read" });
    const { context, page } = await consolePage(browser, problems);
    await signInAt(page, `${service.url}/console?q=${encodeURIComponent("Read-only custom")}`, reader);
    await page.getByRole("link", { name: "View Read-only custom", exact: true }).click();
    await expect.poll(() => page.locator("#form-title").textContent()).toBe("View “Read-only custom”");
    for (const label of ["Name", "Family", "Labels", "Endpoint URL"]) {
      expect(await page.getByLabel(label, { exact: true }).getAttribute("readonly"), label).not.toBeNull();
    }
    expect(await page.getByRole("button", { name: /^Save/ }).count()).toBe(0);
    expect(await fact(page, "ID")).toBe(model.metadata.id);
    // Its history: the creation, by the profile that created it.
    await expect.poll(() => page.locator(".revision").first().textContent()).toContain("Created");
    await context.close();
  });
});

describe("the catalog's URL", () => {
  it("keeps search, filters, sort and page through reload, Back and a shared link", async () => {
    const { context, page } = await consolePage(browser, problems);
    await signInAt(page, `${service.url}/console`, token);
    await page.getByLabel("Sort by").selectOption({ label: "Input price, highest first" });
    await page.getByLabel("Status").selectOption("enabled");
    await expect.poll(() => page.url()).toContain("sort=-input");
    const sorted = await rest<ListJson>("GET", `/v1/models?limit=25&status=MODEL_STATUS_ENABLED&orderBy=${encodeURIComponent("spec.inputPricePerMillionTokens desc, metadata.name")}`);
    await page.getByRole("button", { name: "Next page" }).click();
    await expect.poll(() => page.locator("#catalog-summary").textContent()).toContain("showing 26–");
    const secondFirst = (await page.locator("table.models tbody tr .model-name").first().textContent()) ?? "";
    // By id: the catalog has models of one name at one price from several providers (o1-pro of openai and azure).
    const secondFirstLink = await page.locator('table.models tbody tr a[aria-label^="View "]').first().getAttribute("href");
    expect(sorted.items.map((m) => `/console/models/${m.metadata.id}`)).not.toContain(secondFirstLink);
    const shared = page.url();
    expect(shared).toMatch(/[?&]page=2/);

    await page.reload();
    await expect.poll(() => page.locator("#catalog-summary").textContent()).toContain("showing 26–");
    expect(await page.getByLabel("Sort by").inputValue()).toBe("spec.inputPricePerMillionTokens desc, metadata.name");
    expect(await page.getByLabel("Status").inputValue()).toBe("enabled");
    expect(await page.locator("table.models tbody tr .model-name").first().textContent()).toBe(secondFirst);
    // After a reload "Previous" still knows the way.
    await page.getByRole("button", { name: "Previous page" }).click();
    await expect.poll(() => page.locator("table.models tbody tr .model-name").first().textContent()).toBe(sorted.items[0].metadata.name);

    await page.getByRole("searchbox", { name: "Search" }).fill("gemini");
    await expect.poll(() => page.url()).toContain("q=gemini");
    const gemini = await rest<ListJson>("GET", "/v1/models?query=gemini&status=MODEL_STATUS_ENABLED&limit=1");
    await expect.poll(() => shownCount(page)).toBe(gemini.pagination.total);
    await page.goBack();
    await expect.poll(() => page.getByRole("searchbox", { name: "Search" }).inputValue()).toBe("");
    await expect.poll(() => page.locator("table.models tbody tr .model-name").first().textContent()).toBe(sorted.items[0].metadata.name);

    // A shared link, opened in another tab of its own.
    const other = await consolePage(browser, problems);
    await signInAt(other.page, shared, token);
    await expect.poll(() => other.page.locator("#catalog-summary").textContent()).toContain("showing 26–");
    expect(await other.page.locator("table.models tbody tr .model-name").first().textContent()).toBe(secondFirst);
    expect(await other.page.getByLabel("Sort by").inputValue()).toBe("spec.inputPricePerMillionTokens desc, metadata.name");
    await other.context.close();
    await context.close();
  });
});

describe("bulk actions, duplicates, import and export", () => {
  it("disables, labels, enables and deletes the selected models", async () => {
    const made = await Promise.all(["Bulk one", "Bulk two", "Bulk three"].map((n) => customModel(n)));
    const ids = made.map((m) => m.metadata.id);
    const { context, page } = await consolePage(browser, problems);
    await signInAt(page, `${service.url}/console?q=Bulk`, token);
    await expect.poll(() => shownCount(page)).toBe(3);
    await page.getByLabel("Select all models on this page").check();
    await expect.poll(() => page.locator(".bulk-count").textContent()).toContain("3 models selected");
    const states = async () => Promise.all(ids.map((id) => rest<ModelJson>("GET", `/v1/models/${id}`)));

    await page.getByRole("region", { name: "Actions on the selected models" }).getByRole("button", { name: "Disable" }).click();
    await expect.poll(() => page.getByRole("status").first().textContent()).toContain("Disabled 3 models.");
    expect((await states()).map((m) => m.spec.status)).toEqual(Array(3).fill("MODEL_STATUS_DISABLED"));

    await page.getByLabel("Label to add (key=value)").fill("team=bulk");
    await page.getByRole("button", { name: "Add label" }).click();
    await expect.poll(() => page.getByRole("status").first().textContent()).toContain("Added the label team=bulk to 3 models.");
    expect((await states()).map((m) => m.metadata.labels)).toEqual(Array(3).fill({ team: "bulk" }));

    await page.getByRole("region", { name: "Actions on the selected models" }).getByRole("button", { name: "Enable" }).click();
    await expect.poll(() => page.getByRole("status").first().textContent()).toContain("Enabled 3 models.");
    expect((await states()).map((m) => m.spec.status)).toEqual(Array(3).fill("MODEL_STATUS_ENABLED"));

    await page.getByRole("region", { name: "Actions on the selected models" }).getByRole("button", { name: "Delete" }).click();
    await expect.poll(() => page.getByRole("status").first().textContent()).toContain("Deleted 3 models.");
    await expect.poll(() => shownCount(page)).toBe(0);
    expect((await states()).every((m) => m.metadata.deleteTime !== undefined)).toBe(true);
    await context.close();
  });

  it("duplicating twice makes distinct names", async () => {
    await customModel("Twin");
    const { context, page } = await consolePage(browser, problems);
    await signInAt(page, `${service.url}/console?q=Twin`, token);
    await page.getByRole("button", { name: "Duplicate Twin", exact: true }).click();
    await expect.poll(() => page.getByRole("status").first().textContent()).toContain("Created “Twin (copy)”");
    await page.getByRole("button", { name: "Duplicate Twin", exact: true }).click();
    await expect.poll(() => page.getByRole("status").first().textContent()).toContain("Created “Twin (copy 2)”");
    await page.getByRole("button", { name: "Duplicate Twin (copy)", exact: true }).click();
    await expect.poll(() => page.getByRole("status").first().textContent()).toContain("Created “Twin (copy 3)”");
    const { items } = await rest<ListJson>("GET", "/v1/models?query=Twin&limit=100");
    expect(items.map((m) => m.metadata.name).sort()).toEqual(["Twin", "Twin (copy 2)", "Twin (copy 3)", "Twin (copy)"]);
    await context.close();
  });

  it("exports the listed models as CSV, and imports a CSV after showing its dry run", async () => {
    await customModel("Exported model");
    const { context, page } = await consolePage(browser, problems);
    await signInAt(page, `${service.url}/console?q=${encodeURIComponent("Exported model")}`, token);
    await page.getByText("Import and export (CSV)").click();
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Export CSV" }).click()]);
    const csv = readFileSync((await download.path())!, "utf8");
    const lines = csv.trim().split(/\r?\n/);
    expect(lines[0].split(",")).toContain("name");
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain("Exported model");

    for (const [name, externalId] of [
      ["Kept as is", "kept"],
      ["Changed by import", "changed"],
    ]) {
      await rest("POST", "/v1/models", { metadata: { name, externalId }, spec: { provider: "acme", family: "acme-1" } });
    }
    const file = [
      "externalId,name,provider,family,labels",
      "new-one,Imported one,acme,acme-9,src=csv",
      ",,acme,acme-9,",
      "changed,Changed by import,acme,acme-7,",
      "kept,Kept as is,acme,acme-1,",
    ].join("\n");
    await page.getByLabel("Import a CSV").setInputFiles({ name: "models.csv", mimeType: "text/csv", buffer: Buffer.from(file) });
    const plan = page.locator(".import-plan");
    await expect.poll(() => plan.textContent()).toContain(
      "This import would create 1 model, would update 1 model and would leave 1 model unchanged. 1 row is refused.",
    );
    // The dry run's diff, row by row: the new model, and the one field that changes with its value before and after.
    const diff = await plan.locator("table.import-diff tbody tr").allTextContents();
    expect(diff).toEqual(["2Imported onenew model", "4Changed by importfamily: acme-1 → acme-7"]);
    expect(await plan.locator("table", { hasText: "Rows refused" }).locator("tbody tr").first().textContent()).toContain("3");
    expect((await rest<ListJson>("GET", "/v1/models?query=Imported&limit=10")).pagination.total).toBe(0);

    await page.getByRole("button", { name: "Apply import" }).click();
    await expect.poll(() => page.getByRole("status").first().textContent()).toContain("The import created 1 model");
    const imported = await rest<ListJson>("GET", "/v1/models?query=Imported&limit=10");
    expect(imported.items.map((m) => [m.metadata.name, m.spec.family, m.metadata.labels])).toEqual([["Imported one", "acme-9", { src: "csv" }]]);
    expect((await rest<ListJson>("GET", `/v1/models?query=${encodeURIComponent("Changed by import")}`)).items[0].spec.family).toBe("acme-7");
    await context.close();
  });
});

describe("forms", () => {
  it("one validation pass on a phone: the page's and the service's errors together, the first invalid field focused and in view", async () => {
    const { context, page } = await consolePage(browser, problems, { width: 390, height: 844 });
    await signInAt(page, `${service.url}/console/models/new`, token, "#name");
    await page.getByLabel("Labels").fill("not a pair");
    await page.getByLabel("Endpoint URL").fill("ftp://files.example");
    await page.getByRole("button", { name: "Create model" }).click();
    await expect.poll(() => page.locator("#modelUrl-error").textContent()).toContain("https://");
    expect(await page.locator("#labels-error").textContent()).toContain("not key=value");
    expect(await page.locator("#name-error").textContent()).toBe("Enter a name for the model.");
    const text = (await page.locator("main").textContent()) ?? "";
    expect(text).not.toContain("is required");
    expect(text).not.toContain("Required.");
    const focused = await page.evaluate<{ id: string; top: number; bottom: number; height: number }>(
      "(() => { const r = document.activeElement.getBoundingClientRect(); return { id: document.activeElement.id, top: r.top, bottom: r.bottom, height: innerHeight }; })()",
    );
    expect(focused.id).toBe("name");
    expect(focused.top).toBeGreaterThanOrEqual(0);
    expect(focused.bottom).toBeLessThanOrEqual(focused.height);
    expect((await rest<ListJson>("GET", "/v1/models?query=files&limit=10")).pagination.total).toBe(0);

    // With the page's own problems fixed, the focus goes to the field only the service refused.
    await page.getByLabel("Name", { exact: true }).fill("Phone model");
    await page.getByLabel("Labels").fill("env=test");
    await page.evaluate("scrollTo(0, 0)");
    await page.getByRole("button", { name: "Create model" }).click();
    await expect.poll(() => page.evaluate("document.activeElement.id")).toBe("modelUrl");
    expect(await page.locator("#name-error").count()).toBe(0);
    await context.close();
  });

  it("a token that expires mid-edit keeps the form: sign in again in place and save with nothing lost", async () => {
    const model = await customModel("Long edit");
    const expired = await service.token(ws, { ttl: -60 });
    const { context, page } = await consolePage(browser, problems);
    await signInAt(page, `${service.url}/console/models/${model.metadata.id}`, token, "#family");
    await page.getByLabel("Family").fill("acme-2");
    await page.getByLabel("Description").fill("Typed before the token expired.");
    // The token runs out now: the service sees the expired one on the save.
    await page.route("**/modelservice.v1.ModelService/UpdateModel", (route) =>
      route.continue({ headers: { ...route.request().headers(), authorization: `Bearer ${expired}` } }),
    );
    await page.getByRole("button", { name: "Save changes" }).click();
    const dialog = page.getByRole("dialog", { name: "Sign in again" });
    await expect.poll(() => dialog.getByRole("alert").textContent()).toContain("Your access token has expired.");
    expect(await page.getByLabel("Family").inputValue()).toBe("acme-2");
    expect((await rest<ModelJson>("GET", `/v1/models/${model.metadata.id}`)).spec.family).toBe("acme-1");

    await page.unroute("**/modelservice.v1.ModelService/UpdateModel");
    await dialog.getByLabel("Access token").fill(await service.token(ws));
    await dialog.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.getByRole("dialog").count()).toBe(0);
    expect(await page.getByLabel("Family").inputValue()).toBe("acme-2");
    expect(await page.getByLabel("Description").inputValue()).toBe("Typed before the token expired.");
    await page.getByRole("button", { name: "Save changes" }).click();
    await expect.poll(() => page.getByRole("status").first().textContent()).toContain("Saved “Long edit”");
    const saved = await rest<ModelJson & { spec: { description?: string } }>("GET", `/v1/models/${model.metadata.id}`);
    expect([saved.spec.family, saved.spec.description]).toEqual(["acme-2", "Typed before the token expired."]);
    await context.close();
  });
});

it("raised no uncaught exception and no Content-Security-Policy refusal on any page", () => {
  expect(problems).toEqual([]);
});
