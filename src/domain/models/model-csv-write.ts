import { create, toJson, type DescEnum } from "@bufbuild/protobuf";
import { TimestampSchema, type Timestamp } from "@bufbuild/protobuf/wkt";
import { stringify } from "csv-stringify/sync";
import { ModelCapabilitySchema, ModelOriginSchema, ModelSpecSchema, ModelStatusSchema, ResourceMetadataSchema, type Model } from "../../../gen/modelservice/v1/model_pb.js";
import { modelCsvColumns, type ModelCsvColumn } from "../../proto/model-csv-columns.js";
import { jsonCells, neutraliseCell } from "./model-csv.js";

// Writing the CSV form of models (the format: model-csv.ts).

/** RFC 4180 text of records: CRLF after every record, quoting where needed. */
export function csvText(records: readonly string[][]): string {
  return stringify(records as string[][], { record_delimiter: "windows", quote_record_delimiter: true });
}

/** The header row, with its CRLF. */
export function modelCsvHeader(): string {
  return csvText([[...modelCsvColumns]]);
}

const labelSpecials = /[\\;=]/g;

/** Labels as one cell: "k=v;k2=v2", sorted by key, with `\`, `;` and `=` escaped by a backslash. */
export function formatLabels(labels: Readonly<Record<string, string>>): string {
  const escape = (text: string) => text.replace(labelSpecials, (c) => "\\" + c);
  return Object.keys(labels)
    .sort()
    .map((key) => `${escape(key)}=${escape(labels[key]!)}`)
    .join(";");
}

function enumName(desc: DescEnum, value: number | undefined): string {
  if (value === undefined || value === 0) return "";
  return desc.value[value]?.name ?? String(value);
}

function centsToUsd(cents: bigint): string {
  const whole = cents / 100n;
  const fraction = String(cents % 100n).padStart(2, "0").replace(/0+$/, "");
  return fraction === "" ? String(whole) : `${whole}.${fraction}`;
}

function price(usd: string | undefined, cents: bigint | undefined): string {
  if (usd !== undefined) return usd;
  return cents === undefined ? "" : centsToUsd(cents);
}

function time(ts: Timestamp | undefined): string {
  return ts ? (toJson(TimestampSchema, ts) as string) : "";
}

function count(n: number | undefined): string {
  return n === undefined ? "" : String(n);
}

/** The cells of a model, in the order of modelCsvColumns. Secrets are not in the message, so cannot be in the row. */
export function modelCsvRecord(model: Model): string[] {
  const m = model.metadata ?? create(ResourceMetadataSchema);
  const s = model.spec ?? create(ModelSpecSchema);
  const json = jsonCells(s);
  const cells: Record<ModelCsvColumn, string> = {
    id: m.id,
    catalogId: m.catalogId ?? "",
    externalId: m.externalId ?? "",
    bundleKey: m.bundleKey ?? "",
    name: m.name,
    labels: formatLabels(m.labels),
    provider: s.provider ?? "",
    family: s.family ?? "",
    description: s.description ?? "",
    modelUrl: s.modelUrl ?? "",
    status: enumName(ModelStatusSchema, s.status),
    inputPricePerMillionTokensUsd: price(s.inputPricePerMillionTokensUsd, s.inputPricePerMillionTokens),
    outputPricePerMillionTokensUsd: price(s.outputPricePerMillionTokensUsd, s.outputPricePerMillionTokens),
    cachedInputPricePerMillionTokensUsd: price(s.cachedInputPricePerMillionTokensUsd, s.cachedInputPricePerMillionTokens),
    maxInputTokens: count(s.maxInputTokens),
    maxOutputTokens: count(s.maxOutputTokens),
    capabilities: [...new Set(s.capabilities)]
      .sort((a, b) => a - b)
      .map((c) => enumName(ModelCapabilitySchema, c))
      .filter((n) => n !== "")
      .join(";"),
    pricing: json.get("pricing")!,
    priceHistory: json.get("priceHistory")!,
    lifecycle: json.get("lifecycle")!,
    source: json.get("source")!,
    modalities: json.get("modalities")!,
    reasoning: json.get("reasoning")!,
    temperature: json.get("temperature")!,
    priceOverride: json.get("priceOverride")!,
    origin: enumName(ModelOriginSchema, m.origin),
    hasToken: String(s.hasToken),
    hasClientKey: String(s.hasClientKey),
    createdAt: time(m.createdAt),
    updatedAt: time(m.updatedAt),
    deleteTime: time(m.deleteTime),
  };
  return modelCsvColumns.map((c) => neutraliseCell(cells[c]));
}
