import { modelService } from "./service-client.js";

/** "X", "X (copy)" and "X (copy 3)" all have the base "X". */
function baseOf(name: string): string {
  return name.replace(/ \(copy(?: \d+)?\)$/, "");
}

/**
 * The name for a new copy of a model: "X (copy)", then "X (copy 2)", "X (copy 3)"…,
 * the first one no model of the workspace (deleted ones included) has.
 */
export async function copyName(name: string): Promise<string> {
  const base = baseOf(name);
  const taken = new Set<string>();
  let cursor = "";
  do {
    const page = await modelService.listModels({ prefix: `${base} (copy`, showDeleted: true, limit: 1000, cursor });
    for (const m of page.items) taken.add(m.metadata?.name ?? "");
    cursor = page.pagination?.nextCursor ?? "";
  } while (cursor !== "");
  if (!taken.has(`${base} (copy)`)) return `${base} (copy)`;
  let n = 2;
  while (taken.has(`${base} (copy ${n})`)) n++;
  return `${base} (copy ${n})`;
}
