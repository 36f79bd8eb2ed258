/** The spec's message fields, in column order. */
const jsonColumns = [
  "pricing",
  "priceHistory",
  "lifecycle",
  "source",
  "modalities",
  "reasoning",
  "temperature",
  "priceOverride",
] as const;

/**
 * The columns of the model CSV format (README "Export and import"), in file
 * order: the JSON names of the Model's fields, prices as decimal dollars
 * (`…Usd`), the structured spec fields as their proto JSON (modelCsvJsonColumns),
 * the credential flags instead of the credentials. The service
 * (domain/models/model-csv-write.ts, model-csv-read.ts) writes and reads them, and the console
 * compares an upload with an export by them, so both import this one list.
 */
export const modelCsvColumns = [
  "id",
  "catalogId",
  "externalId",
  "bundleKey",
  "name",
  "labels",
  "provider",
  "family",
  "description",
  "modelUrl",
  "status",
  "inputPricePerMillionTokensUsd",
  "outputPricePerMillionTokensUsd",
  "cachedInputPricePerMillionTokensUsd",
  "maxInputTokens",
  "maxOutputTokens",
  "capabilities",
  ...jsonColumns,
  "origin",
  "hasToken",
  "hasClientKey",
  "createdAt",
  "updatedAt",
  "deleteTime",
] as const;

export type ModelCsvColumn = (typeof modelCsvColumns)[number];

/** The columns of the spec's message fields: each cell is the field's proto JSON ("" when unset). */
export const modelCsvJsonColumns: ReadonlySet<ModelCsvColumn> = new Set(jsonColumns);

/** The columns an import reads but never writes: the keys of catalog rows, and what the service sets. */
export const modelCsvOutputOnlyColumns: ReadonlySet<ModelCsvColumn> = new Set([
  "id",
  "catalogId",
  "priceHistory",
  "source",
  "origin",
  "hasToken",
  "hasClientKey",
  "createdAt",
  "updatedAt",
  "deleteTime",
]);
