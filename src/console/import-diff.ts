import { parse } from "csv-parse/browser/esm/sync";
import { modelCsvColumns, modelCsvOutputOnlyColumns } from "../proto/model-csv-columns.js";

/**
 * What an import would change, row by row: the uploaded CSV against an export
 * of the workspace as it is, matched as ImportModels matches (by id, then
 * externalId, then catalogId) and compared cell by cell in the columns an
 * import writes. The service's dry run stays the authority on what is refused
 * and on the counts; this is the per-row picture people check before applying.
 */

export interface RowChange {
  column: string;
  before: string;
  after: string;
}

export interface RowPlan {
  /** Row number in the file, the header being row 1. */
  row: number;
  name: string;
  action: "create" | "update";
  changes: RowChange[];
}

/** The columns an import writes; a catalog copy takes only its labels, status and price override. */
const writable = modelCsvColumns.filter((c) => !modelCsvOutputOnlyColumns.has(c));
const catalogWritable = ["labels", "status", "priceOverride"];

type Row = Record<string, string>;

function rowsOf(csv: string): Row[] {
  return parse(csv, { columns: true, skip_empty_lines: true, bom: true, relax_column_count: true }) as Row[];
}

/** One form of a cell's value: lists in any order, numbers however written. */
function normal(column: string, value: string): string {
  if (column === "labels" || column === "capabilities") return value.split(/(?<!\\);/).filter((p) => p !== "").sort().join(";");
  if (value !== "" && /Usd$|Tokens$/.test(column) && !Number.isNaN(Number(value))) return String(Number(value));
  return value;
}

export function importDiff(uploaded: string, current: string): RowPlan[] {
  const existing = rowsOf(current);
  const index = (column: string) => new Map(existing.filter((r) => r[column]).map((r) => [r[column], r]));
  const byId = index("id");
  const byExternalId = index("externalId");
  const byCatalogId = index("catalogId");
  const plans: RowPlan[] = [];
  for (const [i, row] of rowsOf(uploaded).entries()) {
    const find = (rows: Map<string, Row>, key: string | undefined) => (key ? rows.get(key) : undefined);
    const match = find(byId, row.id) ?? find(byExternalId, row.externalId) ?? find(byCatalogId, row.catalogId);
    const name = row.name || match?.name || "";
    if (!match) {
      plans.push({ row: i + 2, name, action: "create", changes: [] });
      continue;
    }
    const columns = (match.catalogId ? catalogWritable : writable).filter((c) => c in row && !(c === "status" && row[c] === ""));
    const changes = columns
      .filter((c) => normal(c, row[c] ?? "") !== normal(c, match[c] ?? ""))
      .map((c) => ({ column: c, before: match[c] ?? "", after: row[c] ?? "" }));
    if (changes.length > 0) plans.push({ row: i + 2, name, action: "update", changes });
  }
  return plans;
}
