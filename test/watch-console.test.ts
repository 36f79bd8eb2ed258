import { afterAll, beforeAll, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { modelClient } from "./support/clients.js";
import { launchChromium } from "./support/browser.js";
import { startTestService, type TestService } from "./support/service.js";

/** Issue 16: the console follows changes made by other clients (Connect-Web streaming), and recovers after a restart. */
let s: TestService;
let browser: Browser;

beforeAll(async () => {
  s = await startTestService();
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await s.dispose();
});

it("the catalog and a model's page update when another client changes a model; live again after a restart", async () => {
  const token = await s.token("ws_console_live");
  const other = modelClient(s.url, token);
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(8_000);
  const page = await context.newPage();
  await page.goto(`${s.url}/console`);
  await page.getByLabel("Access token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator("#model-count").waitFor();
  await expect.poll(() => page.locator(".live").textContent()).toBe("Live");
  await page.locator("#search").fill("livewatch");
  await expect.poll(() => page.locator("table.models tbody tr").count()).toBe(0);

  const m = await other.createModel({ model: { metadata: { name: "livewatch first" }, spec: { family: "f", provider: "acme" } } });
  await expect.poll(() => page.locator("table.models tbody").textContent()).toContain("livewatch first");
  await other.updateModel({ id: m.metadata!.id, model: { metadata: { name: "livewatch renamed" } }, updateMask: { paths: ["metadata.name"] } });
  await expect.poll(() => page.locator("table.models tbody").textContent()).toContain("livewatch renamed");

  // A model's page follows too.
  await page.goto(`${s.url}/console/models/${m.metadata!.id}`);
  await expect.poll(() => page.getByLabel("Name", { exact: true }).inputValue()).toBe("livewatch renamed");
  await other.updateModel({ id: m.metadata!.id, model: { metadata: { name: "livewatch from afar" } }, updateMask: { paths: ["metadata.name"] } });
  await expect.poll(() => page.getByLabel("Name", { exact: true }).inputValue()).toBe("livewatch from afar");

  // The server restarts: the page says so, reconnects, and catches up.
  await s.stop();
  await expect.poll(() => page.locator(".live").textContent()).toBe("Reconnecting…");
  await s.restart();
  await modelClient(s.url, token).updateModel({ id: m.metadata!.id, model: { metadata: { name: "livewatch after restart" } }, updateMask: { paths: ["metadata.name"] } });
  await expect.poll(() => page.getByLabel("Name", { exact: true }).inputValue(), { timeout: 15_000 }).toBe("livewatch after restart");
  expect(await page.locator(".live").textContent()).toBe("Live");
  await context.close();
}, 60_000);
