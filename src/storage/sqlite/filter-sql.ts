import type { CheckedFilterNode } from "../model-filter.js";
import { compileFilter } from "../filter-sql.js";

export { orderToSql, type SortKeySql } from "../filter-sql.js";

/**
 * The SQL boolean expression of a checked filter in SQLite's dialect, to be
 * ANDed into a WHERE clause over `models`. Adds its values to `params` as f0,
 * f1, … (skipping names already present) and references them as @f0, @f1, ….
 * LIKE compares ASCII letters case-insensitively in SQLite.
 */
export function filterToSql(node: CheckedFilterNode, params: Record<string, unknown>): string {
  let next = 0;
  return compileFilter(node, {
    param(value) {
      while (Object.hasOwn(params, `f${next}`)) next++;
      const name = `f${next++}`;
      params[name] = value;
      return `@${name}`;
    },
    true: "1",
    false: "0",
    boolean: (value) => (value ? 1 : 0),
    labels: "json_each(models.labels)",
    capabilities: "json_each(models.capabilities)",
    modalities: (side) => `json_each(models.modalities, '$.${side}')`,
    like: "LIKE",
  });
}
