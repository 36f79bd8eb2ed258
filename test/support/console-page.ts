import type { Browser, BrowserContext, Page } from "playwright-core";
import { expect } from "vitest";

/** A model as REST answers it, with the fields the console tests read. */
export interface ModelJson {
  metadata: {
    id: string;
    name: string;
    etag: string;
    deleteTime?: string;
    externalId?: string;
    catalogId?: string;
    origin?: string;
    canEdit?: boolean;
    labels?: Record<string, string>;
  };
  spec: { status: string; provider?: string; family?: string; hasToken?: boolean; cachedInputPricePerMillionTokensUsd?: string; capabilities?: string[] };
}
export interface ListJson {
  items: ModelJson[];
  pagination: { nextCursor?: string; total: number };
}

/** REST calls with a token, failing the test on anything but 200. */
export function restClient(url: () => string, token: () => string) {
  return async function rest<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(url() + path, {
      method,
      headers: { authorization: `Bearer ${token()}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    expect(res.status, text).toBe(200);
    return JSON.parse(text) as T;
  };
}

/** A fresh browser context (its own sessionStorage), its steps failing fast with their locator named; page errors go to `problems`. */
export async function consolePage(browser: Browser, problems: string[], viewport = { width: 1280, height: 900 }): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport });
  context.setDefaultTimeout(8_000);
  const page = await context.newPage();
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) problems.push(`csp: ${m.text()}`);
  });
  return { context, page };
}

/** Opens a console URL (path and query), signs in with the token there and waits for the page to show `ready`. */
export async function signInAt(page: Page, url: string, token: string, ready = "#model-count"): Promise<void> {
  await page.goto(url);
  await page.getByLabel("Access token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator(ready).first().waitFor();
}

export const shownCount = async (page: Page) => Number(/^(\d+)/.exec((await page.locator("#model-count").textContent()) ?? "")?.[1]);
