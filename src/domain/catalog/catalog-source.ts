import { Code, ConnectError } from "@connectrpc/connect";
import { open } from "node:fs/promises";
import { invalidArgument } from "../validation/field-violations.js";
import { bundledPriceData, parsePriceData, PriceDataError, type PriceData } from "./price-data.js";

/** Where RefreshCatalog may read price data from, and how much of it. */
export interface CatalogSourceSettings {
  /** Price-package provider ids the catalog is built from. */
  providers: readonly string[];
  /** Whether an https URL may be fetched. */
  fetchUrls: boolean;
  /** Largest data file read, in bytes. */
  maxBytes: number;
}

const fetchTimeoutMs = 60_000;

function tooLarge(size: number | string, settings: CatalogSourceSettings): ConnectError {
  return invalidArgument([
    { field: "source", description: `the data file is ${size} bytes, more than the ${settings.maxBytes} bytes allowed (MODELSERVICE_CATALOG_MAX_BYTES)` },
  ]);
}

/** A file's text, refused before reading when it is larger than allowed. */
async function readPath(path: string, settings: CatalogSourceSettings): Promise<string> {
  let file;
  try {
    file = await open(path, "r");
  } catch (e) {
    throw invalidArgument([{ field: "source", description: `cannot open the data file: ${(e as NodeJS.ErrnoException).code ?? "error"}` }]);
  }
  try {
    const { size, isFile } = await file.stat().then((s) => ({ size: s.size, isFile: s.isFile() }));
    if (!isFile) throw invalidArgument([{ field: "source", description: "is not a regular file" }]);
    if (size > settings.maxBytes) throw tooLarge(size, settings);
    return await file.readFile("utf8");
  } finally {
    await file.close();
  }
}

/** A URL's body, read no further than the size allowed. */
async function readUrl(url: URL, settings: CatalogSourceSettings): Promise<string> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(fetchTimeoutMs), redirect: "error" });
  } catch (e) {
    throw new ConnectError(`the data file could not be fetched: ${e instanceof Error ? e.message : String(e)}`, Code.FailedPrecondition);
  }
  if (!res.ok || !res.body) throw new ConnectError(`the data file could not be fetched: HTTP ${res.status}`, Code.FailedPrecondition);
  const declared = Number(res.headers.get("content-length") ?? "0");
  if (declared > settings.maxBytes) {
    await res.body.cancel();
    throw tooLarge(declared, settings);
  }
  const chunks: Uint8Array[] = [];
  let received = 0;
  for await (const chunk of res.body) {
    received += chunk.byteLength;
    if (received > settings.maxBytes) throw tooLarge(`more than ${settings.maxBytes}`, settings);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * The price data a refresh reads: bundled with the package (source ""), a
 * file on the server, or an https URL when fetching is allowed. A source that
 * is missing, unreachable, too large or not valid data is refused, naming the
 * problem; nothing has been changed then.
 */
export async function loadPriceData(source: string, settings: CatalogSourceSettings): Promise<PriceData> {
  try {
    if (source === "") return bundledPriceData(settings.providers);
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source)) {
      const url = URL.canParse(source) ? new URL(source) : undefined;
      if (url?.protocol !== "https:") throw invalidArgument([{ field: "source", description: "a URL must be https://" }]);
      if (!settings.fetchUrls) {
        throw new ConnectError("fetching catalog data from a URL is off on this server (MODELSERVICE_CATALOG_FETCH_URLS)", Code.FailedPrecondition);
      }
      return parsePriceData(await readUrl(url, settings), settings.providers);
    }
    return parsePriceData(await readPath(source, settings), settings.providers);
  } catch (e) {
    if (e instanceof PriceDataError) throw invalidArgument([{ field: "source", description: e.message }]);
    throw e;
  }
}
