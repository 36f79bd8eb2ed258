import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  checkFilter,
  FilterSyntaxError,
  maxFilterDepth,
  maxFilterLength,
  maxFilterRestrictions,
  parseCheckedFilter,
  parseFilter,
  parseOrderBy,
  parseRfc3339,
  type CheckedFilterNode,
  type FilterNode,
} from "../src/domain/search/filter-expression.js";
import { filterToSql, orderToSql } from "../src/storage/sqlite/filter-sql.js";
import { migrate } from "../src/storage/sqlite/migrations.js";

/**
 * ListModels `filter` (AIP-160) and `orderBy` (AIP-132): parsing, checking,
 * and the SQL they compile to, run against the real schema.
 */

function parsed(text: string): FilterNode {
  const node = parseFilter(text);
  if (node instanceof FilterSyntaxError) throw new Error(`unexpected error for ${text}: ${node.message}`);
  return node;
}

function checked(text: string): CheckedFilterNode {
  const node = parseCheckedFilter(text);
  if (node instanceof FilterSyntaxError) throw new Error(`unexpected error for ${text}: ${node.message}`);
  return node;
}

/** The error of a filter that must fail (parsing or checking). */
function failure(text: string): { column: number; message: string } {
  const node = parseCheckedFilter(text);
  if (!(node instanceof FilterSyntaxError)) throw new Error(`expected an error for ${text}`);
  return { column: node.column, message: node.message };
}

/** A compact rendering of a parsed tree, to assert its shape. */
function show(node: FilterNode): string {
  switch (node.kind) {
    case "and":
    case "or":
      return `${node.kind}(${node.children.map(show).join(", ")})`;
    case "not":
      return `not(${show(node.child)})`;
    case "compare": {
      const v = node.value;
      const value =
        v.kind === "string" ? JSON.stringify(v.parts.length > 1 ? v.parts.join("<*>") : v.value) : v.kind === "any" ? "*" : v.kind === "number" ? v.text : String(v.value);
      return `${node.path.join(".")}${node.operator}${value}`;
    }
  }
}

// ---------------------------------------------------------------------------
// Database

let db: Database.Database;

const t = (iso: string) => Date.parse(iso);

interface Row {
  id: string;
  workspace_id?: string | null;
  name: string;
  external_id?: string | null;
  bundle_key?: string | null;
  labels?: Record<string, string>;
  origin?: string;
  family?: string | null;
  provider?: string | null;
  input_price_cents?: number | null;
  output_price_cents?: number | null;
  cached_input_price_cents?: number | null;
  max_input_tokens?: number | null;
  max_output_tokens?: number | null;
  capabilities?: string[];
  description?: string | null;
  model_url?: string | null;
  has_token?: number;
  status?: string | null;
  created_at: number;
  updated_at?: number;
}

const rows: Row[] = [
  {
    id: "m1",
    name: "Claude Sonnet",
    external_id: "ext-1",
    bundle_key: "bundle-a",
    labels: { env: "prod", team: "ai" },
    origin: "MODEL_ORIGIN_SYSTEM",
    provider: "anthropic",
    family: "claude-sonnet-4.5",
    input_price_cents: 300,
    output_price_cents: 1500,
    cached_input_price_cents: 30,
    max_input_tokens: 200000,
    max_output_tokens: 64000,
    capabilities: ["MODEL_CAPABILITY_VISION", "MODEL_CAPABILITY_TOOL_CALLING"],
    description: "Fast and smart",
    model_url: "https://api.anthropic.com",
    has_token: 1,
    status: "MODEL_STATUS_ENABLED",
    created_at: t("2024-01-01T00:00:00Z"),
    updated_at: t("2024-03-01T00:00:00Z"),
  },
  {
    id: "m2",
    name: "GPT-4o",
    labels: { env: "dev" },
    provider: "openai",
    family: "gpt-4o",
    input_price_cents: 250,
    output_price_cents: 1000,
    max_input_tokens: 128000,
    max_output_tokens: 16384,
    capabilities: ["MODEL_CAPABILITY_VISION"],
    status: "MODEL_STATUS_DISABLED",
    created_at: t("2024-06-01T00:00:00Z"),
  },
  {
    id: "m3",
    name: "x' OR 1=1 --",
    description: "100% _real_",
    status: "MODEL_STATUS_ENABLED",
    created_at: t("2025-01-01T00:00:00.500Z"),
  },
  {
    // A system model: no workspace, no status.
    id: "m4",
    workspace_id: null,
    name: "100%",
    labels: { env: 'a"b', "app.kubernetes.io/name": "gemini" },
    origin: "MODEL_ORIGIN_SYSTEM",
    provider: "google",
    family: "gemini-2.5-flash",
    input_price_cents: 8,
    capabilities: ["MODEL_CAPABILITY_REASONING"],
    status: null,
    created_at: t("2025-02-01T00:00:00Z"),
  },
  {
    id: "m5",
    name: "a_b",
    labels: { env: "prod" },
    provider: "Anthropic",
    family: "claude-haiku",
    input_price_cents: 80,
    status: "MODEL_STATUS_ENABLED",
    created_at: t("2025-03-01T00:00:00Z"),
  },
  {
    id: "m6",
    name: "aXb",
    labels: { env: "prod*" },
    family: "a*b",
    status: "MODEL_STATUS_DISABLED",
    created_at: t("2025-04-01T00:00:00Z"),
  },
];

beforeAll(() => {
  db = new Database(":memory:");
  migrate(db);
  db.prepare("INSERT INTO workspaces (id, account_id, created_at) VALUES ('ws1', 'acct1', 0)").run();
  const insert = db.prepare(`
    INSERT INTO models (id, workspace_id, account_id, name, profile_id, bundle_key, external_id, labels, origin,
      family, provider, input_price_cents, output_price_cents, cached_input_price_cents, max_input_tokens,
      max_output_tokens, capabilities, description, model_url, has_token, status, created_at, updated_at)
    VALUES (@id, @workspace_id, 'acct1', @name, 'profile_1', @bundle_key, @external_id, @labels, @origin,
      @family, @provider, @input_price_cents, @output_price_cents, @cached_input_price_cents, @max_input_tokens,
      @max_output_tokens, @capabilities, @description, @model_url, @has_token, @status, @created_at, @updated_at)`);
  for (const r of rows) {
    insert.run({
      workspace_id: "ws1",
      external_id: null,
      bundle_key: null,
      origin: "MODEL_ORIGIN_WORKSPACE",
      family: null,
      provider: null,
      input_price_cents: null,
      output_price_cents: null,
      cached_input_price_cents: null,
      max_input_tokens: null,
      max_output_tokens: null,
      description: null,
      model_url: null,
      has_token: 0,
      updated_at: r.created_at,
      ...r,
      labels: JSON.stringify(r.labels ?? {}),
      capabilities: JSON.stringify(r.capabilities ?? []),
    });
  }
});
afterAll(() => db.close());

/** Ids of the models a filter selects, compiled and run for real. */
function ids(text: string): string[] {
  const params: Record<string, unknown> = {};
  const where = filterToSql(checked(text), params);
  return (db.prepare(`SELECT id FROM models WHERE ${where} ORDER BY id`).all(params) as Array<{ id: string }>).map((r) => r.id);
}

// ---------------------------------------------------------------------------

describe("parseFilter: syntax", () => {
  it("parses every comparator", () => {
    for (const op of ["=", "!=", "<", "<=", ">", ">=", ":"]) {
      expect(show(parsed(`spec.maxInputTokens ${op} 5`))).toBe(`spec.maxInputTokens${op}5`);
      expect(show(parsed(`spec.maxInputTokens${op}5`))).toBe(`spec.maxInputTokens${op}5`);
    }
  });

  it("parses values: strings, numbers, booleans, words, wildcards, presence", () => {
    expect(show(parsed('name = "a \\"b\\" \\\\ c"'))).toBe('name="a \\"b\\" \\\\ c"');
    expect(show(parsed("name = 'it\\'s'"))).toBe(`name="it's"`);
    expect(show(parsed(`name = 'say "hi"'`))).toBe(`name="say \\"hi\\""`);
    expect(show(parsed("spec.inputPricePerMillionTokens > -1.5"))).toBe("spec.inputPricePerMillionTokens>-1.5");
    expect(show(parsed("spec.hasToken = true"))).toBe("spec.hasToken=true");
    expect(show(parsed("status = MODEL_STATUS_ENABLED"))).toBe("status=MODEL_STATUS_ENABLED");
    expect(show(parsed("family = gpt-4.1"))).toBe("family=gpt-4.1");
    expect(show(parsed('name = "*son*"'))).toBe('name="<*>son<*>"');
    expect(show(parsed('name = "a\\*b"'))).toBe('name="a*b"');
    expect(show(parsed("labels.env:*"))).toBe("labels.env:*");
    expect(show(parsed('labels."app.kubernetes.io/name" = x'))).toBe("labels.app.kubernetes.io/name=x");
  });

  it("gives OR precedence over AND and juxtaposition (AIP-160)", () => {
    expect(show(parsed("a = 1 OR b = 2 AND c = 3"))).toBe("and(or(a=1, b=2), c=3)");
    expect(show(parsed("a = 1 AND b = 2 OR c = 3"))).toBe("and(a=1, or(b=2, c=3))");
    expect(show(parsed("a = 1 b = 2 OR c = 3"))).toBe("and(a=1, or(b=2, c=3))");
    expect(show(parsed("(a = 1 AND b = 2) OR c = 3"))).toBe("or(and(a=1, b=2), c=3)");
    expect(show(parsed("a = 1 b = 2 AND c = 3"))).toBe("and(a=1, b=2, c=3)");
  });

  it("parses negation with NOT and -", () => {
    expect(show(parsed("NOT a = 1"))).toBe("not(a=1)");
    expect(show(parsed("-a = 1 b = 2"))).toBe("and(not(a=1), b=2)");
    expect(show(parsed("NOT (a = 1 OR b = 2)"))).toBe("not(or(a=1, b=2))");
    expect(show(parsed("-(a = 1)"))).toBe("not(a=1)");
    expect(show(parsed("NOTE = 1"))).toBe("NOTE=1");
    expect(show(parsed("a = -1"))).toBe("a=-1");
  });

  it("treats an empty filter as matching everything", () => {
    expect(parsed("")).toEqual({ kind: "and", children: [] });
    expect(parsed("   ")).toEqual({ kind: "and", children: [] });
    expect(ids("")).toEqual(["m1", "m2", "m3", "m4", "m5", "m6"]);
  });

  it.each([
    ["spec.provider = ", 17, "expected a value after '=' at column 17"],
    ['name = "abc', 8, "unterminated string at column 8"],
    ['(name = "a"', 12, "expected ')' at column 12"],
    ['name = "a")', 11, "unexpected ')' at column 11"],
    ['name "a"', 6, 'expected a comparison operator (=, !=, <, <=, >, >=, :) after "name" at column 6'],
    ['name = "a" AND', 15, "expected a restriction after 'AND' at column 15"],
    ['name = "a" OR ', 15, "expected a restriction after 'OR' at column 15"],
    ['name = "a" AND OR b = 1', 16, "expected a restriction before 'OR' at column 16"],
    ["NOT", 4, "expected a restriction after 'NOT' at column 4"],
    ["- name = 1", 2, "expected a restriction after '-' at column 2"],
    ['name = "a\\q"', 10, "unknown escape '\\q' (use \\\", \\', \\\\ or \\*) at column 10"],
    ["name = ", 8, "expected a value after '=' at column 8"],
    ["name = AND", 8, "expected a value after '=' at column 8"],
    ["name = *", 8, "a bare '*' is only allowed after ':' (presence test); quote it for a wildcard at column 8"],
    ["labels.env:*x", 13, "expected whitespace or ')' after '*' at column 13"],
    ["spec. = 1", 6, "expected a field name after '.' at column 6"],
    ["= 1", 1, "expected a field name at column 1"],
    ["()", 2, "expected a restriction after '(' at column 2"],
    ["name = -x", 8, '"-x" is not a number at column 8'],
    [`spec.maxInputTokens < 1${"0".repeat(400)}`, 23, "number is out of range at column 23"],
    // Columns count code points, not UTF-16 units.
    ['name = "😀" )', 12, "unexpected ')' at column 12"],
  ])("rejects %j at column %i", (text, column, message) => {
    const e = parseFilter(text);
    expect(e).toBeInstanceOf(FilterSyntaxError);
    expect((e as FilterSyntaxError).column).toBe(column);
    expect((e as FilterSyntaxError).message).toBe(message);
  });

  it("limits length, depth and restrictions without exhausting the stack", () => {
    const long = 'name = "' + "x".repeat(maxFilterLength) + '"';
    expect(failure(long)).toEqual({ column: maxFilterLength + 1, message: `filter is longer than ${maxFilterLength} characters at column 2049` });
    const okLength = 'name = "' + "x".repeat(maxFilterLength - 9) + '"';
    expect(okLength.length).toBe(maxFilterLength);
    expect(parseCheckedFilter(okLength)).not.toBeInstanceOf(FilterSyntaxError);

    const nest = (n: number) => "(".repeat(n) + "name = 1" + ")".repeat(n);
    expect(parseFilter(nest(maxFilterDepth))).not.toBeInstanceOf(FilterSyntaxError);
    expect(failure(nest(maxFilterDepth + 1))).toEqual({ column: 65, message: "filter nests deeper than 64 levels at column 65" });
    expect(failure("(".repeat(2000)).message).toBe("filter nests deeper than 64 levels at column 65");
    expect(failure("NOT (".repeat(40) + "name = 1" + ")".repeat(40)).column).toBe(161);
    expect(failure("-(".repeat(1000)).column).toBe(65);

    const many = (n: number) => Array.from({ length: n }, (_, i) => `spec.maxInputTokens > ${i}`).join(" OR ");
    expect(ids(many(maxFilterRestrictions))).toEqual(["m1", "m2"]);
    const tooMany = many(maxFilterRestrictions + 1);
    expect(failure(tooMany)).toEqual({
      column: tooMany.lastIndexOf("spec.") + 1,
      message: `filter has more than 64 restrictions at column ${tooMany.lastIndexOf("spec.") + 1}`,
    });
  });
});

describe("checkFilter: fields and types", () => {
  it("resolves aliases and label shorthands", () => {
    expect(checked("name = x")).toEqual({ kind: "text", field: "metadata.name", op: "=", value: { kind: "exact", value: "x" } });
    expect(checked("provider:openai")).toEqual({ kind: "text", field: "spec.provider", op: "=", value: { kind: "exact", value: "openai" } });
    expect(checked("status = MODEL_STATUS_ENABLED")).toEqual({ kind: "enum", field: "spec.status", op: "=", value: "MODEL_STATUS_ENABLED" });
    expect(checked("labels.env = prod")).toEqual({ kind: "labelValue", key: "env", op: "=", value: { kind: "exact", value: "prod" } });
    expect(checked("metadata.labels.env = prod")).toEqual(checked("labels.env = prod"));
    expect(checked("metadata.labels:env")).toEqual({ kind: "labelKey", key: { kind: "exact", value: "env" } });
    expect(checked("metadata.createdAt >= \"2024-06-01T02:00:00+02:00\"")).toEqual({
      kind: "number",
      field: "metadata.createdAt",
      op: ">=",
      value: t("2024-06-01T00:00:00Z"),
    });
    expect(checked("spec.capabilities:MODEL_CAPABILITY_VISION")).toEqual({ kind: "capability", value: "MODEL_CAPABILITY_VISION" });
  });

  it.each([
    ["spec.credentials.token = x", 1, 'unknown field "spec.credentials.token" at column 1'],
    ['name = "a" AND credentials_blob:*', 16, 'unknown field "credentials_blob" at column 16'],
    ["metadata.id = x", 1, 'unknown field "metadata.id" at column 1'],
    ['spec.maxInputTokens < "abc"', 23, "expected a number for spec.maxInputTokens at column 23"],
    ["spec.inputPricePerMillionTokens = cheap", 35, "expected a number for spec.inputPricePerMillionTokens at column 35"],
    ["status = MODEL_STATUS_BOGUS", 10, '"MODEL_STATUS_BOGUS" is not a value of spec.status; expected MODEL_STATUS_ENABLED, MODEL_STATUS_DISABLED at column 10'],
    ["status = MODEL_STATUS_UNSPECIFIED", 10, '"MODEL_STATUS_UNSPECIFIED" is not a value of spec.status; expected MODEL_STATUS_ENABLED, MODEL_STATUS_DISABLED at column 10'],
    ["metadata.origin = 1", 19, "1 is not a value of metadata.origin; expected MODEL_ORIGIN_SYSTEM, MODEL_ORIGIN_WORKSPACE at column 19"],
    ["status < MODEL_STATUS_ENABLED", 8, "'<' does not apply to spec.status; use '=' or '!=' at column 8"],
    ["spec.hasToken = 1", 17, "expected true or false for spec.hasToken at column 17"],
    ["spec.hasToken >= true", 15, "'>=' does not apply to spec.hasToken; use '=' or '!=' at column 15"],
    ['metadata.createdAt > "yesterday"', 22, 'expected an RFC 3339 timestamp for metadata.createdAt, such as "2025-01-31T12:00:00Z" at column 22'],
    ['metadata.createdAt > "2024-02-30T00:00:00Z"', 22, 'expected an RFC 3339 timestamp for metadata.createdAt, such as "2025-01-31T12:00:00Z" at column 22'],
    ["metadata.createdAt > 1700000000000", 22, 'expected an RFC 3339 timestamp for metadata.createdAt, such as "2025-01-31T12:00:00Z" at column 22'],
    ["spec.capabilities = MODEL_CAPABILITY_VISION", 19, "only ':' applies to spec.capabilities (spec.capabilities:MODEL_CAPABILITY_VISION) at column 19"],
    ["spec.capabilities:VISION", 19, '"VISION" is not a value of spec.capabilities; expected MODEL_CAPABILITY_VISION, MODEL_CAPABILITY_TOOL_CALLING, MODEL_CAPABILITY_REASONING, MODEL_CAPABILITY_PROMPT_CACHING at column 19'],
    ["labels = prod", 8, "metadata.labels takes a key: metadata.labels:<key> or metadata.labels.<key> = <value> at column 8"],
    ['name < "a*"', 8, "wildcards apply only to '=', '!=' and ':'; escape a literal '*' as \\* at column 8"],
    ["name:*", 6, "metadata.name is always set; ':*' tests fields that may be unset at column 6"],
    ['labels:""', 8, "empty label key at column 8"],
  ])("rejects %j at column %i", (text, column, message) => {
    expect(failure(text)).toEqual({ column, message });
  });

  it("guards hand-made trees that are too deep", () => {
    let node: FilterNode = { kind: "compare", path: ["name"], operator: "=", value: { kind: "text", value: "x" }, column: 1, operatorColumn: 6, valueColumn: 8 };
    for (let i = 0; i < 100_000; i++) node = { kind: "not", child: node, column: 1 };
    expect(checkFilter(node)).toBeInstanceOf(FilterSyntaxError);
    let deep: CheckedFilterNode = { kind: "present", field: "spec.family" };
    for (let i = 0; i < 100_000; i++) deep = { kind: "not", child: deep };
    expect(() => filterToSql(deep, {})).toThrow("filter nests too deeply");
  });

  it("parses RFC 3339 timestamps", () => {
    expect(parseRfc3339("2024-01-01T00:00:00Z")).toBe(t("2024-01-01T00:00:00Z"));
    expect(parseRfc3339("2024-01-01t05:30:00.25+05:30")).toBe(t("2024-01-01T00:00:00.250Z"));
    expect(parseRfc3339("2024-01-01T00:00:00.0005Z")).toBe(t("2024-01-01T00:00:00Z") + 0.5);
    expect(parseRfc3339("0050-01-01T00:00:00Z")).toBe(Date.parse("0050-01-01T00:00:00Z"));
    expect(parseRfc3339("2024-02-29T00:00:00Z")).toBe(t("2024-02-29T00:00:00Z"));
    for (const bad of ["2023-02-29T00:00:00Z", "2024-13-01T00:00:00Z", "2024-01-01T24:00:00Z", "2024-01-01", "2024-01-01T00:00:00"]) {
      expect(parseRfc3339(bad)).toBeUndefined();
    }
  });
});

describe("filterToSql against the real schema", () => {
  it("compares text fields, case-sensitively", () => {
    expect(ids('name = "GPT-4o"')).toEqual(["m2"]);
    expect(ids('name = "gpt-4o"')).toEqual([]);
    expect(ids("provider = anthropic")).toEqual(["m1"]);
    expect(ids("spec.provider != anthropic")).toEqual(["m2", "m3", "m4", "m5", "m6"]);
    expect(ids('metadata.externalId = "ext-1"')).toEqual(["m1"]);
    expect(ids("metadata.bundleKey:bundle-a")).toEqual(["m1"]);
    expect(ids('spec.modelUrl = "https://*"')).toEqual(["m1"]);
    expect(ids('spec.description:"*real*"')).toEqual(["m3"]);
    expect(ids('name < "C"')).toEqual(["m4"]);
    expect(ids('family >= "gemini"')).toEqual(["m2", "m4"]);
  });

  it("treats unset fields as not equal, and NOT as their complement", () => {
    // m3 and m6 have no provider; m3 no family.
    expect(ids('family != "gpt-4o"')).toEqual(["m1", "m3", "m4", "m5", "m6"]);
    expect(ids('NOT family = "gpt-4o"')).toEqual(["m1", "m3", "m4", "m5", "m6"]);
    expect(ids('-family < "g"')).toEqual(["m2", "m3", "m4"]);
    expect(ids('family != "*"')).toEqual(["m3"]);
    expect(ids("family:*")).toEqual(["m1", "m2", "m4", "m5", "m6"]);
    expect(ids("-family:*")).toEqual(["m3"]);
    expect(ids("status != MODEL_STATUS_ENABLED")).toEqual(["m2", "m4", "m6"]);
    expect(ids("-status:*")).toEqual(["m4"]);
    expect(ids("spec.cachedInputPricePerMillionTokens != 30")).toEqual(["m2", "m3", "m4", "m5", "m6"]);
    expect(ids("NOT spec.maxInputTokens > 150000")).toEqual(["m2", "m3", "m4", "m5", "m6"]);
  });

  it("matches wildcards with LIKE, escaping % _ and \\", () => {
    expect(ids('family = "claude-*"')).toEqual(["m1", "m5"]);
    expect(ids('family = "*-4o"')).toEqual(["m2"]);
    expect(ids('family = "*sonnet*"')).toEqual(["m1"]);
    expect(ids('family != "claude-*"')).toEqual(["m2", "m3", "m4", "m6"]);
    expect(ids('family = "a\\*b"')).toEqual(["m6"]);
    expect(ids('family = "a*b"')).toEqual(["m6"]);
    expect(ids('name = "a_*"')).toEqual(["m5"]);
    expect(ids('name = "*%"')).toEqual(["m4"]);
    expect(ids('name = "100*"')).toEqual(["m4"]);
    expect(ids('name = "*\\\\*"')).toEqual([]);
    // LIKE folds ASCII case: wildcard matches are case-insensitive, exact ones are not.
    expect(ids('provider = "anthropic*"')).toEqual(["m1", "m5"]);
  });

  it("compares numbers and timestamps", () => {
    expect(ids("spec.inputPricePerMillionTokens < 100")).toEqual(["m4", "m5"]);
    expect(ids("spec.inputPricePerMillionTokens <= 250")).toEqual(["m2", "m4", "m5"]);
    expect(ids("spec.inputPricePerMillionTokens = 300")).toEqual(["m1"]);
    expect(ids("spec.inputPricePerMillionTokens > 79.5")).toEqual(["m1", "m2", "m5"]);
    expect(ids("spec.outputPricePerMillionTokens >= 1000")).toEqual(["m1", "m2"]);
    expect(ids("spec.maxOutputTokens > -1")).toEqual(["m1", "m2"]);
    expect(ids('metadata.createdAt < "2024-06-01T00:00:00Z"')).toEqual(["m1"]);
    expect(ids('metadata.createdAt >= "2024-06-01T00:00:00Z"')).toEqual(["m2", "m3", "m4", "m5", "m6"]);
    expect(ids('metadata.createdAt = "2025-01-01T00:00:00.5Z"')).toEqual(["m3"]);
    expect(ids('metadata.createdAt > "2025-01-01T00:00:00.4999Z" metadata.createdAt < "2025-01-01T00:00:00.5001Z"')).toEqual(["m3"]);
    expect(ids('metadata.updatedAt > "2024-02-01T00:00:00Z" metadata.updatedAt < "2024-06-01T00:00:00Z"')).toEqual(["m1"]);
  });

  it("compares enums and booleans", () => {
    expect(ids("status = MODEL_STATUS_ENABLED")).toEqual(["m1", "m3", "m5"]);
    expect(ids('spec.status = "MODEL_STATUS_DISABLED"')).toEqual(["m2", "m6"]);
    expect(ids("metadata.origin = MODEL_ORIGIN_SYSTEM")).toEqual(["m1", "m4"]);
    expect(ids("metadata.origin != MODEL_ORIGIN_SYSTEM")).toEqual(["m2", "m3", "m5", "m6"]);
    expect(ids("spec.hasToken = true")).toEqual(["m1"]);
    expect(ids("spec.hasToken != true")).toEqual(["m2", "m3", "m4", "m5", "m6"]);
    expect(ids("spec.hasToken:false")).toEqual(["m2", "m3", "m4", "m5", "m6"]);
  });

  it("tests labels: key presence, values, absence", () => {
    expect(ids("labels:env")).toEqual(["m1", "m2", "m4", "m5", "m6"]);
    expect(ids("metadata.labels:team")).toEqual(["m1"]);
    expect(ids("labels.team:*")).toEqual(["m1"]);
    expect(ids("labels:*")).toEqual(["m1", "m2", "m4", "m5", "m6"]);
    expect(ids("-labels:*")).toEqual(["m3"]);
    expect(ids('labels:"app.*"')).toEqual(["m4"]);
    expect(ids("labels.env = prod")).toEqual(["m1", "m5"]);
    expect(ids('labels.env = "prod*"')).toEqual(["m1", "m5", "m6"]);
    expect(ids('labels.env = "prod\\*"')).toEqual(["m6"]);
    expect(ids("labels.env != prod")).toEqual(["m2", "m3", "m4", "m6"]);
    expect(ids('labels.env > "e"')).toEqual(["m1", "m5", "m6"]);
    expect(ids("labels.app.kubernetes.io/name = gemini")).toEqual(["m4"]);
    expect(ids('metadata.labels."app.kubernetes.io/name" = "gemini"')).toEqual(["m4"]);
  });

  it("tests capabilities for containment", () => {
    expect(ids("spec.capabilities:MODEL_CAPABILITY_VISION")).toEqual(["m1", "m2"]);
    expect(ids('spec.capabilities:"MODEL_CAPABILITY_TOOL_CALLING"')).toEqual(["m1"]);
    expect(ids("-spec.capabilities:MODEL_CAPABILITY_VISION")).toEqual(["m3", "m4", "m5", "m6"]);
    expect(ids("spec.capabilities:MODEL_CAPABILITY_PROMPT_CACHING")).toEqual([]);
    expect(ids("spec.capabilities:*")).toEqual(["m1", "m2", "m4"]);
  });

  it("combines with AIP-160 precedence", () => {
    // (openai OR anthropic) AND disabled; with OR binding looser it would also select m1.
    expect(ids("provider = openai OR provider = anthropic AND status = MODEL_STATUS_DISABLED")).toEqual(["m2"]);
    expect(ids("status = MODEL_STATUS_DISABLED provider = openai OR provider = anthropic")).toEqual(["m2"]);
    expect(ids("(provider = openai OR provider = anthropic) AND status = MODEL_STATUS_ENABLED")).toEqual(["m1"]);
    expect(ids("provider = openai OR (provider = anthropic AND status = MODEL_STATUS_ENABLED)")).toEqual(["m1", "m2"]);
    expect(ids("labels.env = prod -name = a_b")).toEqual(["m1"]);
    expect(ids("NOT (labels.env = prod OR labels.env = dev)")).toEqual(["m3", "m4", "m6"]);
  });

  it("keeps injected text out of the SQL", () => {
    const cases: Array<[string, string[]]> = [
      [`name = "x' OR 1=1 --"`, ["m3"]],
      [`name = 'x\\' OR 1=1 --'`, ["m3"]],
      [`name = "x' OR 1=1 --*"`, ["m3"]],
      [`name = "%"`, []],
      [`name = "_"`, []],
      [`name = "100%"`, ["m4"]],
      [`labels.env = "a\\"b"`, ["m4"]],
      [`labels."env') OR 1=1 --" = x`, []],
      [`labels."env" = "x\\" OR 1=1 --"`, []],
      [`spec.description = "*; DROP TABLE models; --"`, []],
    ];
    for (const [text, expected] of cases) {
      const params: Record<string, unknown> = {};
      const sql = filterToSql(checked(text), params);
      expect(sql, text).not.toMatch(/OR 1=1|DROP|100|%|'x|env/);
      expect(sql, text).toMatch(/@f\d/);
      expect(ids(text), text).toEqual(expected);
    }
    expect(db.prepare("SELECT count(*) AS n FROM models").get()).toEqual({ n: rows.length });
  });

  it("names parameters f0, f1, … without overwriting the caller's", () => {
    const params: Record<string, unknown> = { workspaceId: "ws1", f0: "taken" };
    const sql = filterToSql(checked('labels.env = prod name = "a*"'), params);
    expect(sql).toBe(
      "(EXISTS (SELECT 1 FROM json_each(models.labels) WHERE key = @f1 AND value = @f2) AND models.name LIKE @f3 ESCAPE '\\')",
    );
    expect(params).toEqual({ workspaceId: "ws1", f0: "taken", f1: "env", f2: "prod", f3: "a%" });
    expect(filterToSql(checked(""), {})).toBe("1");
  });

  it("refuses malformed checked nodes instead of writing them into SQL", () => {
    const bad = [
      { kind: "text", field: "models.id; --", op: "=", value: { kind: "exact", value: "x" } },
      { kind: "number", field: "spec.maxInputTokens", op: "= 1 OR", value: 1 },
      { kind: "number", field: "spec.maxInputTokens", op: "=", value: "1 OR 1=1" },
      { kind: "text", field: "metadata.name", op: "<", value: { kind: "wildcard", parts: ["a", ""] } },
      { kind: "present", field: "constructor" },
      { kind: "raw", sql: "1=1" },
    ];
    for (const node of bad) expect(() => filterToSql(node as unknown as CheckedFilterNode, {})).toThrow();
  });
});

describe("parseOrderBy and orderToSql", () => {
  it("parses fields, aliases and directions", () => {
    expect(parseOrderBy("")).toEqual([]);
    expect(parseOrderBy("  ")).toEqual([]);
    expect(parseOrderBy("name")).toEqual([{ field: "metadata.name", descending: false }]);
    expect(parseOrderBy("spec.inputPricePerMillionTokens desc, name asc,family")).toEqual([
      { field: "spec.inputPricePerMillionTokens", descending: true },
      { field: "metadata.name", descending: false },
      { field: "spec.family", descending: false },
    ]);
    expect(parseOrderBy(" metadata.updatedAt DESC , status ")).toEqual([
      { field: "metadata.updatedAt", descending: true },
      { field: "spec.status", descending: false },
    ]);
  });

  it.each([
    ["name,", 6, "expected a field name at column 6"],
    [",name", 1, "expected a field name at column 1"],
    ["name descending", 6, "expected 'asc', 'desc' or ',' after \"name\" at column 6"],
    ["name desc family", 11, "expected ',' at column 11"],
    ["name metadata.name", 6, "expected 'asc', 'desc' or ',' after \"name\" at column 6"],
    ["name, metadata.name desc", 7, "metadata.name appears twice at column 7"],
    ["spec.secret", 1, 'unknown field "spec.secret" at column 1'],
    ["spec.capabilities", 1, "cannot sort by spec.capabilities at column 1"],
    ["name, labels.env", 7, "cannot sort by metadata.labels at column 7"],
    ["spec.description desc", 1, "cannot sort by spec.description at column 1"],
    ["name; DROP TABLE models", 5, "expected 'asc', 'desc' or ',' after \"name\" at column 5"],
  ])("rejects %j at column %i", (text, column, message) => {
    const e = parseOrderBy(text);
    expect(e).toBeInstanceOf(FilterSyntaxError);
    expect({ column: (e as FilterSyntaxError).column, message: (e as FilterSyntaxError).message }).toEqual({ column, message });
  });

  it("limits length", () => {
    expect((parseOrderBy("name" + " ".repeat(3000)) as FilterSyntaxError).column).toBe(2049);
  });

  it("compiles to ORDER BY terms that sort the real table", () => {
    const terms = parseOrderBy("spec.inputPricePerMillionTokens desc, name");
    if (terms instanceof FilterSyntaxError) throw terms;
    const { orderBy, columns } = orderToSql(terms);
    expect(orderBy).toBe("input_price_cents DESC NULLS LAST, name ASC");
    expect(columns).toEqual(["input_price_cents", "name"]);
    const sorted = (db.prepare(`SELECT id FROM models ORDER BY ${orderBy}, created_at, id`).all() as Array<{ id: string }>).map((r) => r.id);
    expect(sorted).toEqual(["m1", "m2", "m5", "m4", "m6", "m3"]);

    const asc = parseOrderBy("family") as Exclude<ReturnType<typeof parseOrderBy>, FilterSyntaxError>;
    const byFamily = (db.prepare(`SELECT id FROM models ORDER BY ${orderToSql(asc).orderBy}, created_at, id`).all() as Array<{ id: string }>).map((r) => r.id);
    expect(byFamily).toEqual(["m6", "m5", "m1", "m4", "m2", "m3"]);

    const all = parseOrderBy(
      "name, metadata.createdAt desc, metadata.updatedAt, provider, family, status, spec.inputPricePerMillionTokens, spec.outputPricePerMillionTokens, spec.cachedInputPricePerMillionTokens, spec.maxInputTokens, spec.maxOutputTokens",
    ) as Exclude<ReturnType<typeof parseOrderBy>, FilterSyntaxError>;
    expect(orderToSql(all).columns).toEqual([
      "name",
      "created_at",
      "updated_at",
      "provider",
      "family",
      "status",
      "input_price_cents",
      "output_price_cents",
      "cached_input_price_cents",
      "max_input_tokens",
      "max_output_tokens",
    ]);
    expect(() => db.prepare(`SELECT id FROM models ORDER BY ${orderToSql(all).orderBy}`).all()).not.toThrow();
    expect(() => orderToSql([{ field: "spec.description" as never, descending: false }])).toThrow();
  });
});
