import type Database from "better-sqlite3";
import type { ListPosition, ModelListQuery, ModelListResult } from "../model-store.js";
import { virtualCopiesSql } from "./catalog-overlay.js";
import { filterToSql, orderToSql } from "./filter-sql.js";
import { modelColumns, rowToModel, type ModelRow } from "./model-row.js";
import type { RowReader } from "./row-reader.js";

/** Prepares (or reuses) a statement reading model rows, with extra columns of type Row. */
type ModelRowsOf = <Row = ModelRow>(sql: string) => RowReader<Row>;

interface SortKey {
  expr: string;
  descending: boolean;
  nullable: boolean;
}

/** The full order of a list: the explicit terms, search rank, then creation time and id (unique, so pages never overlap). */
function sortKeys(q: ModelListQuery): SortKey[] {
  const keys: SortKey[] = [];
  if (q.order.length > 0) {
    for (const k of orderToSql(q.order).keys) keys.push({ expr: `models.${k.column}`, descending: k.descending, nullable: k.nullable });
  } else if (q.rankBySearch && q.search.length > 0) {
    keys.push({ expr: "hits.search_rank", descending: false, nullable: false });
  }
  keys.push({ expr: "models.created_at", descending: q.descending, nullable: false });
  keys.push({ expr: "models.id", descending: q.descending, nullable: false });
  return keys;
}

function orderTerm(k: SortKey): string {
  return `${k.expr} ${k.descending ? "DESC" : "ASC"}${k.nullable ? " NULLS LAST" : ""}`;
}

/**
 * Keyset condition "comes after this position" for any order: equal on the
 * leading keys and past the position on the next one, where unset values sort
 * last whatever the direction.
 */
function keysetAfter(keys: SortKey[], after: ListPosition, params: Record<string, unknown>): string {
  const values = [...after.values, after.id];
  const disjuncts: string[] = [];
  keys.forEach((key, k) => {
    const value = values[k] ?? null;
    if (value === null) return; // nothing sorts after an unset value but through later keys
    const equal = keys.slice(0, k).map((prev, i) => `${prev.expr} IS @after${i}`);
    const past = `${key.expr} ${key.descending ? "<" : ">"} @after${k}`;
    equal.push(key.nullable ? `(${past} OR ${key.expr} IS NULL)` : past);
    disjuncts.push(`(${equal.join(" AND ")})`);
  });
  values.forEach((v, i) => (params[`after${i}`] = v ?? null));
  return disjuncts.length > 0 ? `(${disjuncts.join(" OR ")})` : "0";
}

/** Escapes LIKE wildcards so user text matches literally (with ESCAPE '\'). */
function likeLiteral(text: string): string {
  return text.replace(/[\\%_]/g, (c) => "\\" + c);
}

/** Where a list's models come from, as "models", and the full-text index row of each. */
interface Source {
  from: string;
  searchRowid: string;
}

/**
 * The sources of a list: the rows; for a workspace also its virtual catalog
 * copies (catalog-overlay.ts). Each is paged on its own, so the rows keep
 * their index order and only the page-sized heads are merged.
 */
function sourcesOf(q: ModelListQuery): Source[] {
  const rows = { from: "models", searchRowid: "models.rowid" };
  return q.workspaceId === null ? [rows] : [rows, { from: `(${virtualCopiesSql}) AS models`, searchRowid: "models.search_rowid" }];
}

/** One keyset page of a list query, with its total and facets when asked. */
export function listModels(q: ModelListQuery, statement: (sql: string) => Database.Statement, modelRows: ModelRowsOf): ModelListResult {
  const params: Record<string, unknown> = {};
  const where = listFilter(q, params);
  const froms = sourcesOf(q).map(({ from, searchRowid }) => (q.search.length > 0 ? `${from} JOIN hits ON hits.rowid = ${searchRowid}` : from));
  // Ranked by bm25 with column weights (name, family, provider, description,
  // labels, external id): a match in the name outranks one in a label.
  const withHits =
    q.search.length > 0
      ? "WITH hits AS MATERIALIZED (SELECT rowid, bm25(models_fts, 10, 4, 2, 1, 1, 2) AS search_rank FROM models_fts WHERE models_fts MATCH @match) "
      : "";
  if (q.search.length > 0) params.match = q.search.map((t) => `"${t.replace(/"/g, '""')}"*`).join(" ");
  const filter = where.join(" AND ");
  const total = q.skipTotal
    ? 0
    : (statement(`${withHits}SELECT ${froms.map((from) => `(SELECT count(*) FROM ${from} WHERE ${filter})`).join(" + ")} AS n`).get(params) as { n: number })
        .n;

  const keys = sortKeys(q);
  let page = filter;
  if (q.after) page += ` AND ${keysetAfter(keys, q.after, params)}`;
  params.limit = q.limit;
  const select = [...modelColumns.map((c) => `models.${c}`), ...keys.map((k, i) => `${k.expr} AS sort_${i}`)].join(", ");
  const heads = froms.map((from) => `SELECT ${select} FROM ${from} WHERE ${page} ORDER BY ${keys.map(orderTerm).join(", ")} LIMIT @limit`);
  const merged = keys.map((k, i) => orderTerm({ ...k, expr: `sort_${i}` })).join(", ");
  const rows = modelRows<ModelRow & Record<string, string | number | null>>(
    heads.length === 1 ? withHits + heads[0]! : `${withHits}${heads.map((h) => `SELECT * FROM (${h})`).join(" UNION ALL ")} ORDER BY ${merged} LIMIT @limit`,
  ).all(params);
  const result: ModelListResult = {
    models: rows.map(rowToModel),
    positions: rows.map((r) => ({ values: keys.slice(0, -1).map((_k, i) => r[`sort_${i}`] ?? null), id: r.id })),
    total,
  };
  if (q.facets) {
    result.facets = {};
    for (const [field, column] of [
      ["spec.provider", "provider"],
      ["spec.status", "status"],
    ] as const) {
      const counts = froms.map((from) => `SELECT ${column} AS value, count(*) AS count FROM ${from} WHERE ${filter} AND ${column} IS NOT NULL GROUP BY ${column}`);
      result.facets[field] = (
        statement(
          `${withHits}SELECT value, sum(count) AS count FROM (${counts.join(" UNION ALL ")}) GROUP BY value ORDER BY count DESC, value`,
        ).all(params) as Array<{ value: string; count: number }>
      ).map((f) => ({ value: f.value, count: f.count }));
    }
  }
  return result;
}

/** The WHERE terms of a list query, with their parameters. */
function listFilter(q: ModelListQuery, params: Record<string, unknown>): string[] {
  const where: string[] = [q.workspaceId === null ? "workspace_id IS NULL" : "workspace_id = @workspaceId"];
  if (q.workspaceId !== null) params.workspaceId = q.workspaceId;
  if (!q.showDeleted) where.push("delete_time IS NULL");
  if (!q.showHidden) where.push("visible = 1");
  if (q.status) {
    where.push("status = @status");
    params.status = q.status;
  }
  if (q.bundleKey) {
    where.push("bundle_key = @bundleKey");
    params.bundleKey = q.bundleKey;
  }
  if (q.prefix) {
    where.push("(name LIKE @prefix ESCAPE '\\' OR external_id LIKE @prefix ESCAPE '\\' OR id LIKE @prefix ESCAPE '\\')");
    params.prefix = likeLiteral(q.prefix) + "%";
  }
  q.labels.forEach(([key, value], i) => {
    where.push(`EXISTS (SELECT 1 FROM json_each(models.labels) WHERE key = @labelKey${i} AND value = @labelValue${i})`);
    params[`labelKey${i}`] = key;
    params[`labelValue${i}`] = value;
  });
  if (q.filter) where.push(`(${filterToSql(q.filter, params)})`);
  return where;
}
