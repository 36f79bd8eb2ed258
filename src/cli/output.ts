import { toJson, type DescField, type DescMessage, type Message, type Registry } from "@bufbuild/protobuf";
import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import { stringify } from "csv-stringify/sync";
import { ModelSchema, type Model } from "../../gen/modelservice/v1/model_pb.js";

export const outputFormats = ["json", "table", "csv"] as const;
export type OutputFormat = (typeof outputFormats)[number];

/** Canonical proto JSON, as the server writes it (implicit fields included), pretty-printed. */
export function jsonText(schema: DescMessage, message: Message, registry: Registry): string {
  return JSON.stringify(toJson(schema, message, { alwaysEmitImplicit: true, registry }), null, 2) + "\n";
}

interface Column {
  header: string;
  /** For people: dollars, short enum names. */
  text(row: Message): string;
  /** For scripts (csv): the plain value. */
  raw(row: Message): string;
}

/** "0.075" → "$0.075", "3" → "$3.00". */
function dollars(usd: string | undefined, cents: bigint | undefined): string {
  if (usd !== undefined && usd !== "") {
    const [whole, frac = ""] = usd.split(".");
    return `$${whole}.${frac.padEnd(2, "0")}`;
  }
  if (cents !== undefined) return `$${(Number(cents) / 100).toFixed(2)}`;
  return "";
}

function enumShort(field: DescField & { fieldKind: "enum" }, value: number): string {
  const v = field.enum.values.find((x) => x.number === value);
  if (!v) return String(value);
  return v.localName.toLowerCase().replace(/_/g, "-");
}

function enumName(field: DescField & { fieldKind: "enum" }, value: number): string {
  return field.enum.values.find((x) => x.number === value)?.name ?? String(value);
}

const specStatus = ModelSchema.field.spec!.message!.field.status as DescField & { fieldKind: "enum" };

/** The columns people read for a model. */
const modelColumns: Column[] = [
  { header: "ID", text: (m) => (m as Model).metadata?.id ?? "", raw: (m) => (m as Model).metadata?.id ?? "" },
  { header: "NAME", text: (m) => (m as Model).metadata?.name ?? "", raw: (m) => (m as Model).metadata?.name ?? "" },
  { header: "PROVIDER", text: (m) => (m as Model).spec?.provider ?? "", raw: (m) => (m as Model).spec?.provider ?? "" },
  { header: "FAMILY", text: (m) => (m as Model).spec?.family ?? "", raw: (m) => (m as Model).spec?.family ?? "" },
  {
    header: "STATUS",
    text: (m) => {
      const s = (m as Model).spec?.status;
      const deleted = (m as Model).metadata?.deleteTime ? " (deleted)" : "";
      return (s === undefined ? "" : enumShort(specStatus, s)) + deleted;
    },
    raw: (m) => ((m as Model).spec?.status === undefined ? "" : enumName(specStatus, (m as Model).spec!.status!)),
  },
  {
    header: "INPUT $/M",
    text: (m) => dollars((m as Model).spec?.inputPricePerMillionTokensUsd, (m as Model).spec?.inputPricePerMillionTokens),
    raw: (m) => (m as Model).spec?.inputPricePerMillionTokensUsd ?? "",
  },
  {
    header: "OUTPUT $/M",
    text: (m) => dollars((m as Model).spec?.outputPricePerMillionTokensUsd, (m as Model).spec?.outputPricePerMillionTokens),
    raw: (m) => (m as Model).spec?.outputPricePerMillionTokensUsd ?? "",
  },
];

function scalarText(field: DescField, value: unknown, forPeople: boolean): string | undefined {
  if (value === undefined || value === null) return "";
  switch (field.fieldKind) {
    case "scalar":
      return typeof value === "bigint" ? value.toString() : String(value);
    case "enum":
      return forPeople ? enumShort(field, value as number) : enumName(field, value as number);
    case "list":
      if (field.listKind === "message") return undefined;
      return (value as unknown[])
        .map((v) => (field.listKind === "enum" ? (forPeople ? enumShort(field as never, v as number) : enumName(field as never, v as number)) : String(v)))
        .join(",");
    case "map":
      return undefined;
    case "message": {
      const typeName = field.message.typeName;
      if (typeName === "google.protobuf.Timestamp") return timestampDate(value as Timestamp).toISOString();
      if (typeName === ModelSchema.typeName) return (value as Model).metadata?.id || (value as Model).metadata?.name || "";
      if (typeName === "google.rpc.Status") {
        const s = value as { code: number; message: string };
        return `${codeToString(s.code)}: ${s.message}`;
      }
      return undefined;
    }
  }
}

/** Columns of a message shown in a row: its scalars, enums, timestamps; a model by id; a oneof's chosen case. */
function columnsOf(schema: DescMessage): Column[] {
  if (schema.typeName === ModelSchema.typeName) return modelColumns;
  const columns: Column[] = [];
  for (const field of schema.fields) {
    if (scalarText(field, placeholder(field), false) === undefined) continue;
    const get = (row: Message): unknown => {
      const r = row as unknown as Record<string, unknown>;
      if (field.oneof) {
        const o = r[field.oneof.localName] as { case?: string; value?: unknown };
        return o.case === field.localName ? o.value : undefined;
      }
      return r[field.localName];
    };
    columns.push({
      header: field.name.toUpperCase().replace(/_/g, " "),
      text: (row) => scalarText(field, get(row), true) ?? "",
      raw: (row) => scalarText(field, get(row), false) ?? "",
    });
  }
  return columns;
}

/** A stand-in value to ask scalarText whether a field can be shown in a cell. */
function placeholder(field: DescField): unknown {
  if (field.fieldKind === "list") return [];
  if (field.fieldKind === "message") {
    if (field.message.typeName === "google.protobuf.Timestamp") return { seconds: 0n, nanos: 0 };
    if (field.message.typeName === "google.rpc.Status") return { code: 0, message: "" };
    return {};
  }
  return field.fieldKind === "enum" ? 0 : "";
}

/** The rows of a response: its first non-empty repeated message field (items, models, results…), else itself. */
function rowsOf(
  schema: DescMessage,
  message: Message,
): { rowSchema: DescMessage; rows: Message[]; listName?: string; summary: Array<[string, string]>; paging: Array<[string, string]> } {
  const lists = schema.fields.filter((f): f is DescField & { fieldKind: "list"; listKind: "message" } => f.fieldKind === "list" && f.listKind === "message");
  if (lists.length === 0) return { rowSchema: schema, rows: [message], summary: [], paging: [] };
  const r = message as unknown as Record<string, unknown>;
  const list = lists.find((f) => (r[f.localName] as unknown[]).length > 0) ?? lists[0]!;
  const summary: Array<[string, string]> = [];
  for (const field of schema.fields) {
    if (field.fieldKind !== "scalar" && field.fieldKind !== "enum") continue;
    summary.push([field.name, scalarText(field, r[field.localName], true) ?? ""]);
  }
  const paging: Array<[string, string]> = [];
  const pagination = r.pagination as { nextCursor?: string; total?: number } | undefined;
  if (pagination?.total !== undefined) paging.push(["total", String(pagination.total)]);
  if (pagination?.nextCursor) paging.push(["next_cursor", pagination.nextCursor]);
  return { rowSchema: list.message, rows: r[list.localName] as Message[], listName: list.name, summary, paging };
}

function width(text: string): number {
  return [...text].length;
}

/**
 * Narrows the widest columns, one character at a time, until the line fits:
 * first those whose cells are wider than their header (names, families),
 * then any down to 5 characters; never an id column (people copy ids).
 */
function fit(widths: number[], headers: readonly string[], maxWidth: number): number[] {
  const fitted = [...widths];
  const lineWidth = () => fitted.reduce((a, b) => a + b, 0) + 2 * (fitted.length - 1);
  for (const floor of [(i: number) => Math.max(5, width(headers[i]!)), () => 5]) {
    while (lineWidth() > maxWidth) {
      let widest = -1;
      fitted.forEach((w, i) => {
        if (/(^| )ID$/.test(headers[i]!) || w <= floor(i)) return;
        if (widest < 0 || w > fitted[widest]!) widest = i;
      });
      if (widest < 0) break;
      fitted[widest]!--;
    }
  }
  return fitted;
}

function clip(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : chars.slice(0, max - 1).join("") + "…";
}

/** What a command prints: the result on stdout; paging (total, next cursor) and notes on stderr. */
export interface Printed {
  stdout: string;
  stderr: string;
}

/** Aligned columns for people, clipped to maxWidth when one is given (a terminal's). */
export function tableText(schema: DescMessage, message: Message, maxWidth?: number): Printed {
  const { rowSchema, rows, listName, summary, paging } = rowsOf(schema, message);
  const columns = columnsOf(rowSchema);
  let stdout = "";
  let stderr = paging.map(([k, v]) => `${k}: ${v}\n`).join("");
  if (rows.length > 0) {
    const headers = columns.map((c) => c.header);
    const cells = [headers, ...rows.map((row) => columns.map((c) => c.text(row)))];
    const natural = columns.map((_, i) => Math.max(...cells.map((line) => width(line[i]!))));
    const widths = maxWidth === undefined ? natural : fit(natural, headers, maxWidth);
    const pad = (cell: string, i: number, last: boolean) => {
      const clipped = clip(cell, widths[i]!);
      return last ? clipped : clipped + " ".repeat(widths[i]! - width(clipped));
    };
    stdout = cells.map((line) => line.map((cell, i) => pad(cell, i, i === line.length - 1)).join("  ").trimEnd()).join("\n") + "\n";
  } else if (listName !== undefined) {
    stderr = `no ${listName.replace(/_/g, " ")}\n` + stderr;
  }
  if (summary.length > 0) stdout += (stdout === "" ? "" : "\n") + summary.map(([k, v]) => `${k}: ${v}`).join("\n") + "\n";
  return { stdout, stderr };
}

/** RFC 4180 CSV of the rows, header first. */
export function csvText(schema: DescMessage, message: Message): string {
  const { rowSchema, rows } = rowsOf(schema, message);
  const columns = columnsOf(rowSchema);
  return stringify([columns.map((c) => c.header.toLowerCase().replace(/ /g, "_").replace("$/m", "usd_per_million")), ...rows.map((row) => columns.map((c) => c.raw(row)))]);
}

/** The response in the format asked for; a table is clipped to maxWidth when given. */
export function format(output: OutputFormat, schema: DescMessage, message: Message, registry: Registry, maxWidth?: number): Printed {
  switch (output) {
    case "json":
      return { stdout: jsonText(schema, message, registry), stderr: "" };
    case "table":
      return tableText(schema, message, maxWidth);
    case "csv":
      return { stdout: csvText(schema, message), stderr: "" };
  }
}
