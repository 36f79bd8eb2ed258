import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "./support/browser.js";
import { consolePage, restClient, signInAt, type ModelJson } from "./support/console-page.js";
import { startTestService, type TestService } from "./support/service.js";

/*
 * Every screen of the console at a laptop's 1280x800 and a phone's 390x844:
 * nothing sticks out sideways, no select cuts its label, and every cell of a
 * table row shares the row's box. The screenshots land in test/artifacts.
 */

const ws = "ws_console_layout";
const artifacts = join(import.meta.dirname, "artifacts");
let service: TestService;
let token: string;
let browser: Browser;
let custom: ModelJson;
let catalogId: string;
const problems: string[] = [];
const rest = restClient(
  () => service.url,
  () => token,
);

/** What is wrong with the layout of the page as shown, one line per problem (run in the page). */
const layoutProblems = `(() => {
  const out = [];
  const width = innerWidth;
  if (document.documentElement.scrollWidth > width) out.push("the page scrolls sideways: " + document.documentElement.scrollWidth + " > " + width);
  const clipped = (el) => {
    for (let a = el.parentElement; a; a = a.parentElement) {
      const s = getComputedStyle(a);
      if (s.overflowX !== "visible" || s.clip !== "auto" || a.classList.contains("visually-hidden")) return true;
    }
    return false;
  };
  const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className && typeof el.className === "string" ? "." + el.className.split(" ").join(".") : "");
  for (const el of document.querySelectorAll("body *")) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || el.closest(".skip, .visually-hidden") || clipped(el)) continue;
    const overflow = getComputedStyle(el).overflowX;
    if ((overflow === "auto" || overflow === "scroll") && el.scrollWidth > el.clientWidth + 1) out.push(name(el) + " scrolls sideways");
    if (r.right > width + 1 || r.left < -1) out.push(name(el) + " sticks out: " + Math.round(r.left) + ".." + Math.round(r.right) + " of " + width);
  }
  const canvas = document.createElement("canvas").getContext("2d");
  for (const select of document.querySelectorAll("select")) {
    const s = getComputedStyle(select);
    canvas.font = s.font;
    const text = select.options[select.selectedIndex]?.text ?? "";
    // The arrow takes about 20 px of the inner width.
    const room = select.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight) - 20;
    if (canvas.measureText(text).width > room) out.push("select#" + select.id + " cuts its label \\"" + text + "\\"");
  }
  for (const row of document.querySelectorAll("tbody tr")) {
    if (getComputedStyle(row).display !== "table-row" || row.getBoundingClientRect().height === 0) continue;
    const rr = row.getBoundingClientRect();
    for (const cell of row.children) {
      const c = cell.getBoundingClientRect();
      if (getComputedStyle(cell).display !== "table-cell" || Math.abs(c.top - rr.top) > 1 || Math.abs(c.height - rr.height) > 1) {
        out.push(name(cell) + " leaves its row's box (" + getComputedStyle(cell).display + ", " + Math.round(c.height) + " px in a " + Math.round(rr.height) + " px row)");
      }
    }
  }
  return [...new Set(out)];
})()`;

async function check(page: Page, screen: string, width: number): Promise<void> {
  await page.screenshot({ path: join(artifacts, `layout-${screen}-${width}.png`), fullPage: true });
  expect(await page.evaluate<string[]>(layoutProblems), `${screen} at ${width} px`).toEqual([]);
}

beforeAll(async () => {
  service = await startTestService();
  token = await service.token(ws);
  browser = await launchChromium();
  mkdirSync(artifacts, { recursive: true });
  // A row that grows: a long name over several lines, and an external id under it.
  custom = await rest<ModelJson>("POST", "/v1/models", {
    metadata: {
      name: "A custom model with a long name that wraps over several lines of the table at every width the console supports",
      externalId: "an-external-id-that-is-long-too-0123456789",
      labels: { env: "prod", team: "layout" },
    },
    spec: { provider: "acme", family: "acme-1", modelUrl: "https://api.acme.example/v1", inputPricePerMillionTokensUsd: "1.25", credentials: { token: "sk-layout" } },
  });
  await rest("PATCH", `/v1/models/${custom.metadata.id}?updateMask=spec.family`, { spec: { family: "acme-2" } });
  const { items } = await rest<{ items: ModelJson[] }>("GET", "/v1/models?limit=1&query=gpt");
  catalogId = items[0].metadata.id;
});

afterAll(async () => {
  await browser?.close();
  await service?.dispose();
});

describe.each([
  { width: 1280, height: 800 },
  { width: 390, height: 844 },
])("every screen at $width x $height", (viewport) => {
  it("sign-in, catalog (selection and import open), new model, a custom model, a catalog model, signing in again", async () => {
    const { context, page } = await consolePage(browser, problems, viewport);
    await page.goto(`${service.url}/console`);
    await page.getByLabel("Access token").waitFor();
    await check(page, "sign-in", viewport.width);

    // The longest sort label, which the Sort select must show whole.
    await signInAt(page, `${service.url}/console?sort=context`, token);
    await page.locator("table.models tbody tr:nth-child(25)").waitFor();
    expect(await page.getByLabel("Sort by").inputValue()).toBe("spec.maxInputTokens asc, metadata.name");
    await check(page, "catalog", viewport.width);

    // By name, the long-named model comes first; selected, with import and export open.
    await page.getByLabel("Sort by").selectOption({ label: "Name" });
    await page.getByRole("checkbox", { name: /^Select A custom model/ }).check();
    await page.getByText("Import and export (CSV)").click();
    await page.locator(".bulk").waitFor();
    await check(page, "catalog-selected", viewport.width);

    await page.goto(`${service.url}/console/models/new`);
    await page.getByLabel("Family").waitFor();
    await page.getByRole("button", { name: "Create model" }).click();
    await page.locator("#name-error").waitFor();
    await check(page, "new-model", viewport.width);

    await page.goto(`${service.url}/console/models/${custom.metadata.id}`);
    await page.locator(".revision").nth(1).waitFor();
    await check(page, "custom-model", viewport.width);

    await page.goto(`${service.url}/console/models/${catalogId}`);
    await page.locator("#revisions-title", { hasText: "(" }).waitFor();
    await check(page, "catalog-model", viewport.width);

    await page.evaluate(`sessionStorage.setItem("modelservice.token", ${JSON.stringify(await service.token(ws, { ttl: -60 }))})`);
    await page.reload();
    await page.getByRole("dialog", { name: "Sign in again" }).waitFor();
    await check(page, "sign-in-again", viewport.width);
    await context.close();
  });
});

it("raised no uncaught exception and no Content-Security-Policy refusal on any page", () => {
  expect(problems).toEqual([]);
});
