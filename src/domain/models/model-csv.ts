import { fromJson, toJson, type JsonValue, type Message } from "@bufbuild/protobuf";
import { ModelSpecSchema, ResourceMetadataSchema, type ModelSpec } from "../../../gen/modelservice/v1/model_pb.js";
import { modelCsvColumns, modelCsvJsonColumns, type ModelCsvColumn } from "../../proto/model-csv-columns.js";
import { updatablePaths } from "./model-input.js";

/**
 * The CSV form of models (ExportModels / ImportModels): RFC 4180 (CRLF record
 * delimiters, fields quoted when they hold a comma, quote, CR or LF), UTF-8,
 * one header row whose names are the JSON names of the Model fields. Enums by
 * their full names, prices as exact decimal dollars (cents are derived on
 * import), labels as one `k=v;k2=v2` column (`;`, `=` and `\` escaped by a
 * backslash), capabilities joined by `;`, the spec's message fields
 * (pricing, lifecycle, …) as their proto JSON. Never any secret: only the
 * hasToken / hasClientKey flags. Cells a spreadsheet would run as a formula
 * are neutralised with a leading `'` (neutraliseCell), which import strips.
 */
export const modelCsvContentType = "text/csv; charset=utf-8";

const columnSet: ReadonlySet<string> = new Set(modelCsvColumns);

export function isColumn(name: string): name is ModelCsvColumn {
  return columnSet.has(name);
}

/**
 * The update-mask path ("spec.max_input_tokens") a column writes on import,
 * read from the descriptors; undefined for output-only columns (id, times,
 * flags) and the keys rows are matched by.
 */
export function updatePathOf(column: ModelCsvColumn): string | undefined {
  for (const [prefix, schema] of [
    ["metadata", ResourceMetadataSchema],
    ["spec", ModelSpecSchema],
  ] as const) {
    const field = schema.fields.find((f) => f.jsonName === column);
    if (field && updatablePaths.has(`${prefix}.${field.name}`)) return `${prefix}.${field.name}`;
  }
  return undefined;
}

/**
 * The column of a field path named by a field violation
 * ("model.spec.inputPricePerMillionTokens" -> "inputPricePerMillionTokensUsd"),
 * or "" when no column holds it.
 */
export function columnOfPath(path: string): ModelCsvColumn | "" {
  const [part, name] = path.replace(/^model\./, "").split(".");
  if ((part !== "metadata" && part !== "spec") || name === undefined) return "";
  if (isColumn(name)) return name;
  const usd = `${name}Usd`;
  return isColumn(usd) ? usd : "";
}

/**
 * A cell a spreadsheet could take for a formula (it starts with `=`, `+`,
 * `-`, `@`, tab or CR: OWASP's CSV injection list) gets a leading `'`, which
 * spreadsheets show as text. So does one that already starts with `'`s
 * before such a character: import strips exactly one `'` from every cell of
 * that shape, so export -> import gives back every value byte for byte.
 * Numeric cells are never negative, so never touched.
 */
const formulaLike = /^'*[=+\-@\t\r]/;

export function neutraliseCell(text: string): string {
  return formulaLike.test(text) ? "'" + text : text;
}

const neutralised = /^'+[=+\-@\t\r]/;

/** The value of a cell written by neutraliseCell. */
export function cellValue(text: string): string {
  return neutralised.test(text) ? text.slice(1) : text;
}

/** The descriptor of each message-field column: the ModelSpec field of that JSON name. */
const jsonColumnFields = [...modelCsvJsonColumns].map((column) => {
  const field = ModelSpecSchema.fields.find((f) => f.jsonName === column);
  if (field?.message === undefined) throw new Error(`CSV column "${column}" is no message field of ModelSpec`);
  return { column, field, message: field.message };
});

/** The spec's message-field cells (modelCsvJsonColumns): each field's proto JSON text, "" when unset. */
export function jsonCells(spec: ModelSpec): Map<ModelCsvColumn, string> {
  return new Map(
    jsonColumnFields.map(({ column, field, message }): [ModelCsvColumn, string] => {
      const value = spec[field.localName as keyof ModelSpec] as Message | Message[] | undefined;
      if (value === undefined || (Array.isArray(value) && value.length === 0)) return [column, ""];
      return [column, JSON.stringify(Array.isArray(value) ? value.map((v) => toJson(message, v)) : toJson(message, value))];
    }),
  );
}

/**
 * The spec field of a message-field cell (column: the field's JSON name),
 * read by its descriptor as ModelSpec JSON; a string says why it is not one.
 */
export function readJsonCell(column: ModelCsvColumn, text: string): Partial<ModelSpec> | string {
  let value: JsonValue;
  try {
    value = JSON.parse(text) as JsonValue;
  } catch {
    return `must be the field's JSON (as exported), not "${text.slice(0, 32)}"`;
  }
  const { field } = jsonColumnFields.find((f) => f.column === column)!;
  try {
    const spec = fromJson(ModelSpecSchema, { [column]: value });
    return { [field.localName]: spec[field.localName as keyof ModelSpec] };
  } catch (e) {
    return `is not a valid ${column}: ${(e as Error).message.replace(/^cannot decode message modelservice\.v1\.ModelSpec from JSON: /, "").slice(0, 200)}`;
  }
}
