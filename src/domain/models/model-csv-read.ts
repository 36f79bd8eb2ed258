import { setImmediate as nextTurn } from "node:timers/promises";
import { Readable } from "node:stream";
import { create, type DescEnum } from "@bufbuild/protobuf";
import { CsvError, parse } from "csv-parse";
import {
  ModelCapability,
  ModelCapabilitySchema,
  ModelOrigin,
  ModelOriginSchema,
  ModelSchema,
  ModelStatus,
  ModelStatusSchema,
  type Model,
} from "../../../gen/modelservice/v1/model_pb.js";
import { invalidArgument } from "../validation/field-violations.js";
import { modelCsvColumns, modelCsvJsonColumns, modelCsvOutputOnlyColumns, type ModelCsvColumn } from "../../proto/model-csv-columns.js";
import { cellValue, isColumn, readJsonCell } from "./model-csv.js";
import { TimeSlice } from "./time-slice.js";

// Reading and checking the CSV form of models (the format: model-csv.ts).

/** Why one row of a CSV was refused. `row` counts records, the header being row 1. */
export interface CsvRowError {
  row: number;
  /** The column at fault, or "" for the row as a whole. */
  column: string;
  reason: string;
}

/** The values of one good row. */
export interface ModelCsvRow {
  row: number;
  /**
   * The model the row describes: every column of the header that maps to a
   * Model field is set (an empty cell leaves the field unset).
   */
  model: Model;
  /** The id the row was exported with. */
  id?: string;
  catalogId?: string;
  origin?: ModelOrigin;
  /** The row has a deleteTime. */
  deleted: boolean;
}

export type ModelCsvRowResult = { ok: true; row: number; value: ModelCsvRow } | { ok: false; row: number; errors: CsvRowError[] };

export interface ModelCsvFile {
  /** The columns of the header, in file order. */
  columns: ModelCsvColumn[];
  /** The data rows, in file order (rows whose cells are all empty left out). */
  rows: ModelCsvRowResult[];
}

export interface ParseOptions {
  /** At most this many data rows; more is InvalidArgument. */
  maxRows: number;
}

/** Parses labels written by formatLabels; a string says what is wrong. */
export function parseLabels(text: string): Record<string, string> | string {
  const labels: Record<string, string> = {};
  if (text.trim() === "") return labels;
  const pairs: Array<[string, string | undefined]> = [];
  let key = "";
  let value: string | undefined;
  const finish = () => {
    if (key.trim() !== "" || value !== undefined) pairs.push([key.trim(), value?.trim()]);
    key = "";
    value = undefined;
  };
  for (let i = 0; i < text.length; i++) {
    let c = text[i]!;
    if (c === "\\") {
      if (i + 1 === text.length) return "ends with a lone backslash";
      c = text[++i]!;
    } else if (c === ";") {
      finish();
      continue;
    } else if (c === "=" && value === undefined) {
      value = "";
      continue;
    }
    if (value === undefined) key += c;
    else value += c;
  }
  finish();
  for (const [k, v] of pairs) {
    if (v === undefined) return `"${k.slice(0, 64)}" is not key=value`;
    if (k === "") return "has a label without a key";
    if (Object.hasOwn(labels, k)) return `has the label "${k.slice(0, 64)}" twice`;
    labels[k] = v;
  }
  return labels;
}

function enumByName<T extends number>(desc: DescEnum, text: string): T | undefined {
  const value = desc.values.find((v) => v.name === text && v.number !== 0);
  return value?.number as T | undefined;
}

const decimalText = /^(\d*)(?:\.(\d*))?$/;

/** "3.50" -> "3.5", "0.0750" -> "0.075", "007" -> "7"; undefined when not a plain non-negative decimal. */
export function normalizeDecimal(text: string): string | undefined {
  const match = decimalText.exec(text);
  if (!match || (match[1] === "" && (match[2] ?? "") === "")) return undefined;
  const whole = match[1]!.replace(/^0+(?=\d)/, "") || "0";
  const fraction = (match[2] ?? "").replace(/0+$/, "");
  return fraction === "" ? whole : `${whole}.${fraction}`;
}

const int32Max = 2_147_483_647;

/** The values of one data row, or what is wrong with its cells. */
function readRow(row: number, record: readonly string[], header: readonly ModelCsvColumn[]): ModelCsvRowResult {
  const errors: CsvRowError[] = [];
  const fail = (column: ModelCsvColumn | "", reason: string) => errors.push({ row, column, reason });
  if (record.length !== header.length) {
    fail("", `has ${record.length} fields; the header has ${header.length}`);
    return { ok: false, row, errors };
  }
  const cells = new Map<ModelCsvColumn, string>(header.map((c, i) => [c, cellValue(record[i]!)]));
  /** The cell, undefined when the header lacks the column or the cell is empty. */
  const cell = (c: ModelCsvColumn) => {
    const v = cells.get(c);
    return v === undefined || v === "" ? undefined : v;
  };
  const trimmed = (c: ModelCsvColumn) => {
    const v = cell(c)?.trim();
    return v === "" ? undefined : v;
  };

  const model = create(ModelSchema, { metadata: {}, spec: {} });
  const m = model.metadata!;
  const s = model.spec!;

  const name = cells.get("name");
  if (name !== undefined) {
    if (name.trim() === "") fail("name", "is required");
    m.name = name;
  }
  m.externalId = cell("externalId");
  m.bundleKey = cell("bundleKey");
  const labels = cell("labels");
  if (labels !== undefined) {
    const parsed = parseLabels(labels);
    if (typeof parsed === "string") fail("labels", parsed);
    else m.labels = parsed;
  }
  s.provider = cell("provider");
  s.family = cell("family");
  s.description = cell("description");
  s.modelUrl = cell("modelUrl");

  const status = trimmed("status");
  if (status !== undefined) {
    s.status = enumByName<ModelStatus>(ModelStatusSchema, status);
    if (s.status === undefined) fail("status", `must be MODEL_STATUS_ENABLED or MODEL_STATUS_DISABLED, not "${status.slice(0, 32)}"`);
  }
  for (const column of ["inputPricePerMillionTokensUsd", "outputPricePerMillionTokensUsd", "cachedInputPricePerMillionTokensUsd"] as const) {
    const text = trimmed(column);
    if (text === undefined) continue;
    const usd = normalizeDecimal(text);
    if (usd === undefined) fail(column, `must be a decimal number of dollars, like "0.075" or "15", not "${text.slice(0, 32)}"`);
    else s[column] = usd;
  }
  for (const column of ["maxInputTokens", "maxOutputTokens"] as const) {
    const text = trimmed(column);
    if (text === undefined) continue;
    const n = /^\d+$/.test(text) ? Number(text) : NaN;
    if (!(n >= 1 && n <= int32Max)) fail(column, `must be a whole number from 1 to ${int32Max}, not "${text.slice(0, 32)}"`);
    else s[column] = n;
  }
  const capabilities = trimmed("capabilities");
  if (capabilities !== undefined) {
    for (const name of capabilities.split(";").map((c) => c.trim()).filter((c) => c !== "")) {
      const value = enumByName<ModelCapability>(ModelCapabilitySchema, name);
      if (value === undefined) fail("capabilities", `"${name.slice(0, 64)}" is not a MODEL_CAPABILITY_* name`);
      else if (!s.capabilities.includes(value)) s.capabilities.push(value);
    }
  }
  // Output-only ones (source, priceHistory) are the service's record: not read.
  for (const column of modelCsvJsonColumns) {
    const text = trimmed(column);
    if (text === undefined || modelCsvOutputOnlyColumns.has(column)) continue;
    const fields = readJsonCell(column, text);
    if (typeof fields === "string") fail(column, fields);
    else Object.assign(s, fields);
  }

  const origin = trimmed("origin");
  let originValue: ModelOrigin | undefined;
  if (origin !== undefined) {
    originValue = enumByName<ModelOrigin>(ModelOriginSchema, origin);
    if (originValue === undefined) fail("origin", `must be MODEL_ORIGIN_SYSTEM or MODEL_ORIGIN_WORKSPACE, not "${origin.slice(0, 32)}"`);
  }
  if (errors.length > 0) return { ok: false, row, errors };
  return {
    ok: true,
    row,
    value: { row, model, id: trimmed("id"), catalogId: trimmed("catalogId"), origin: originValue, deleted: trimmed("deleteTime") !== undefined },
  };
}

function readHeader(record: readonly string[]): ModelCsvColumn[] {
  const names = record.map((n) => n.trim());
  const unknown = names.filter((n) => !isColumn(n));
  if (unknown.length > 0) {
    throw invalidArgument([
      {
        field: "csv",
        description: `header row: unknown column${unknown.length > 1 ? "s" : ""} ${unknown
          .slice(0, 5)
          .map((n) => `"${n.slice(0, 64)}"`)
          .join(", ")}; the columns are ${modelCsvColumns.join(", ")}`,
      },
    ]);
  }
  const repeated = names.find((n, i) => names.indexOf(n) !== i);
  if (repeated !== undefined) throw invalidArgument([{ field: "csv", description: `header row: column "${repeated}" appears twice` }]);
  if (!names.includes("name")) throw invalidArgument([{ field: "csv", description: 'header row: the "name" column is required' }]);
  return names as ModelCsvColumn[];
}

function* slices(data: Uint8Array, size: number): Generator<Uint8Array> {
  for (let i = 0; i < data.byteLength; i += size) yield data.subarray(i, i + size);
}

/**
 * Reads a CSV in the columns of modelCsvColumns (any order, any subset that
 * has "name"). Problems of a row's cells are that row's errors; a file that
 * is not CSV at all (bad quoting), a bad header or too many rows is
 * InvalidArgument for the whole file. Parses in slices, in time slices
 * (the stream alone hands rows over in microtasks, which let no I/O in), so
 * a large file does not hold the event loop.
 */
export async function parseModelCsv(data: Uint8Array, options: ParseOptions): Promise<ModelCsvFile> {
  const parser = Readable.from(slices(data, 16 * 1024), { objectMode: false }).pipe(
    parse({ bom: true, info: true, relax_column_count: true }),
  );
  let header: ModelCsvColumn[] | undefined;
  const rows: ModelCsvRowResult[] = [];
  const slice = new TimeSlice();
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { records: number } }>) {
      await slice.pause();
      // Blank lines (and rows of empty cells) count as rows, as in a spreadsheet, but say nothing.
      if (record.every((cell) => cell.trim() === "")) continue;
      if (header === undefined) {
        header = readHeader(record);
        continue;
      }
      if (rows.length === options.maxRows) {
        throw invalidArgument([{ field: "csv", description: `has more than ${options.maxRows} rows` }]);
      }
      rows.push(readRow(info.records, record, header));
      // The parser hands over whole 64 KiB slices without waiting on I/O: let other calls in now and then.
      if (rows.length % 100 === 0) await nextTurn();
    }
  } catch (e) {
    if (e instanceof CsvError) {
      const at = (e as CsvError & { records?: number }).records;
      throw invalidArgument([{ field: "csv", description: `${at === undefined ? "" : `row ${at + 1}: `}${e.message}`.slice(0, 300) }]);
    }
    throw e;
  } finally {
    parser.destroy();
  }
  if (header === undefined) throw invalidArgument([{ field: "csv", description: "has no header row" }]);
  return { columns: header, rows };
}
