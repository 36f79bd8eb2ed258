import { compileFilter, likeLiteral, orderToSql } from "../filter-sql.js";
import type { ListPosition, ModelListQuery } from "../model-store.js";
import { virtualCopiesSql } from "./pg-catalog-overlay.js";
import { modelColumns, type PgParam } from "./pg-rows.js";

/** A query's text and its positional parameters ($1, $2, …). */
export interface PgQuery {
  text: string;
  params: PgParam[];
}

interface SortKey {
  expr: string;
  descending: boolean;
  nullable: boolean;
}

/** The columns a list reads (not the search vector nor catalog bookkeeping). */
export const selectModel = modelColumns.map((c) => `models.${c}`).join(", ");

/** Collects positional parameters: each value once per use, referenced as $n. */
class Params {
  readonly values: PgParam[] = [];
  add(value: PgParam): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/**
 * Search terms as a tsquery: each term's words (runs of letters and digits,
 * as the search vector keeps them) in sequence, the last one as a prefix;
 * every term must match, as in the SQLite store's FTS5 query.
 */
export function searchQuery(terms: string[]): string {
  const quote = (word: string) => `'${word.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`;
  return terms
    .map((t) => t.split(/[^\p{L}\p{N}]+/u).filter((w) => w !== ""))
    .filter((words) => words.length > 0)
    .map((words) => `(${words.map((w, i) => quote(w) + (i === words.length - 1 ? ":*" : "")).join(" <-> ")})`)
    .join(" & ");
}

/** Ranks a match in the name over family, provider and external id, description and labels (weights D, C, B, A); lower sorts first. */
const rankWeights = "'{0.1, 0.2, 0.4, 1.0}'";

function sortKeys(q: ModelListQuery, rank: string | undefined): SortKey[] {
  const keys: SortKey[] = [];
  if (q.order.length > 0) {
    for (const k of orderToSql(q.order).keys) keys.push({ expr: `models.${k.column}`, descending: k.descending, nullable: k.nullable });
  } else if (q.rankBySearch && rank !== undefined) {
    keys.push({ expr: rank, descending: false, nullable: false });
  }
  keys.push({ expr: "models.created_at", descending: q.descending, nullable: false });
  keys.push({ expr: "models.id", descending: q.descending, nullable: false });
  return keys;
}

function orderTerm(k: SortKey): string {
  return `${k.expr} ${k.descending ? "DESC" : "ASC"} NULLS LAST`;
}

/** Keyset condition "comes after this position", unset values sorting last in both directions (as in the SQLite store). */
function keysetAfter(keys: SortKey[], after: ListPosition, params: Params): string {
  const values = [...after.values, after.id];
  const placeholders = values.map((v) => (v === null || v === undefined ? null : params.add(v)));
  const disjuncts: string[] = [];
  keys.forEach((key, k) => {
    const value = placeholders[k] ?? null;
    if (value === null) return;
    const equal = keys.slice(0, k).map((prev, i) => (placeholders[i] === null ? `${prev.expr} IS NULL` : `${prev.expr} = ${placeholders[i]}`));
    const past = `${key.expr} ${key.descending ? "<" : ">"} ${value}`;
    equal.push(key.nullable ? `(${past} OR ${key.expr} IS NULL)` : past);
    disjuncts.push(`(${equal.join(" AND ")})`);
  });
  return disjuncts.length > 0 ? `(${disjuncts.join(" OR ")})` : "FALSE";
}

/** The WHERE terms of a list query. */
function listFilter(q: ModelListQuery, params: Params, tsquery: string | undefined): string[] {
  const where: string[] = [q.workspaceId === null ? "models.workspace_id IS NULL" : `models.workspace_id = ${params.add(q.workspaceId)}`];
  if (!q.showDeleted) where.push("models.delete_time IS NULL");
  if (!q.showHidden) where.push("models.visible");
  if (q.status) where.push(`models.status = ${params.add(q.status)}`);
  if (q.bundleKey) where.push(`models.bundle_key = ${params.add(q.bundleKey)}`);
  if (q.prefix) {
    const p = params.add(likeLiteral(q.prefix) + "%");
    where.push(`(models.name ILIKE ${p} ESCAPE '\\' OR models.external_id ILIKE ${p} ESCAPE '\\' OR models.id ILIKE ${p} ESCAPE '\\')`);
  }
  for (const [key, value] of q.labels) where.push(`models.labels::jsonb @> ${params.add({ [key]: value })}::jsonb`);
  if (tsquery !== undefined) where.push(`models.search @@ ${tsquery}`);
  if (q.filter) {
    where.push(
      `(${compileFilter(q.filter, {
        param: (v) => params.add(v),
        true: "TRUE",
        false: "FALSE",
        boolean: (v) => v,
        labels: "json_each_text(models.labels) AS label(key, value)",
        capabilities: "jsonb_array_elements_text(models.capabilities) AS capability(value)",
        modalities: (side) => `json_array_elements_text(models.modalities->'${side}') AS modality(value)`,
        like: "ILIKE",
      })})`,
    );
  }
  return where;
}

export interface PgListQueries {
  count?: PgQuery;
  page: PgQuery;
  /** Sort keys selected as sort_0, sort_1, … by `page`, all but the id (the position's values). */
  positionKeys: number;
  facets: Array<{ field: string; query: PgQuery }>;
}

/**
 * The SQL of a ListModels query: its count, its page (keyset), and its
 * facets. A workspace's list has two sources, its rows and its virtual
 * catalog copies (pg-catalog-overlay.ts), each paged on its own so that the
 * rows keep their index order and only the page-sized heads are merged;
 * totals and facets are summed over both.
 */
export function listQueries(q: ModelListQuery): PgListQueries {
  const params = new Params();
  const search = q.search.length > 0 ? searchQuery(q.search) : undefined;
  const tsquery = search === undefined ? undefined : `to_tsquery('simple', ${params.add(search)})`;
  const rank = tsquery === undefined ? undefined : `(-ts_rank(${rankWeights}, models.search, ${tsquery}))`;
  const filter = listFilter(q, params, tsquery).join(" AND ");
  const froms = q.workspaceId === null ? ["models"] : ["models", `(${virtualCopiesSql(params.add(q.workspaceId))}) AS models`];
  const shared = [...params.values];
  const keys = sortKeys(q, rank);
  const pageParams = new Params();
  pageParams.values.push(...shared);
  let page = filter;
  if (q.after) page += ` AND ${keysetAfter(keys, q.after, pageParams)}`;
  const limit = pageParams.add(q.limit);
  const select = keys.map((k, i) => `${k.expr} AS sort_${i}`).join(", ");
  const heads = froms.map((from) => `SELECT ${selectModel}, ${select} FROM ${from} WHERE ${page} ORDER BY ${keys.map(orderTerm).join(", ")} LIMIT ${limit}`);
  const merged = keys.map((k, i) => orderTerm({ ...k, expr: `sort_${i}` })).join(", ");
  return {
    count: q.skipTotal
      ? undefined
      : { text: `SELECT ${froms.map((from) => `(SELECT count(*) FROM ${from} WHERE ${filter})`).join(" + ")} AS n`, params: shared },
    page: {
      text: heads.length === 1 ? heads[0]! : `SELECT * FROM (${heads.map((h) => `(${h})`).join(" UNION ALL ")}) AS models ORDER BY ${merged} LIMIT ${limit}`,
      params: pageParams.values,
    },
    positionKeys: keys.length - 1,
    facets: q.facets
      ? (
          [
            ["spec.provider", "provider"],
            ["spec.status", "status"],
          ] as const
        ).map(([field, column]) => ({
          field,
          query: {
            text: `SELECT value, sum(count)::bigint AS count FROM (${froms
              .map((from) => `SELECT models.${column} AS value, count(*) AS count FROM ${from} WHERE ${filter} AND models.${column} IS NOT NULL GROUP BY models.${column}`)
              .join(" UNION ALL ")}) AS counts GROUP BY value ORDER BY count DESC, value`,
            params: shared,
          },
        }))
      : [],
  };
}
