import type { MessageInitShape } from "@bufbuild/protobuf";
import { ModelStatus } from "../../gen/modelservice/v1/model_pb.js";
import type { ListModelsRequestSchema } from "../../gen/modelservice/v1/model_service_pb.js";

/** The catalog's search box, filters and sort order, and the ListModels request they make. */
export interface CatalogFilters {
  query: string;
  provider: string;
  status: "" | "enabled" | "disabled";
  sort: string;
  showDeleted: boolean;
}

export const noFilters: CatalogFilters = { query: "", provider: "", status: "", sort: "", showDeleted: false };

/** The sort choices: AIP-132 orderBy of ListModels ("" keeps the service's default order), and their short name in the URL. */
export const sortOptions: ReadonlyArray<{ label: string; orderBy: string; key: string }> = [
  // Without orderBy the service ranks search results by relevance, and lists oldest first otherwise.
  { label: "Default order", orderBy: "", key: "" },
  { label: "Input price, lowest first", orderBy: "spec.inputPricePerMillionTokens asc, metadata.name", key: "input" },
  { label: "Input price, highest first", orderBy: "spec.inputPricePerMillionTokens desc, metadata.name", key: "-input" },
  { label: "Output price, lowest first", orderBy: "spec.outputPricePerMillionTokens asc, metadata.name", key: "output" },
  { label: "Output price, highest first", orderBy: "spec.outputPricePerMillionTokens desc, metadata.name", key: "-output" },
  { label: "Context window, largest first", orderBy: "spec.maxInputTokens desc, metadata.name", key: "-context" },
  { label: "Context window, smallest first", orderBy: "spec.maxInputTokens asc, metadata.name", key: "context" },
  { label: "Name", orderBy: "metadata.name", key: "name" },
];

/** A string literal of an AIP-160 filter: quotes, backslashes and wildcards escaped. */
function filterString(value: string): string {
  return `"${value.replace(/[\\"*]/g, (c) => `\\${c}`)}"`;
}

export const pageSize = 25;

export function listRequest(f: CatalogFilters, cursor: string): MessageInitShape<typeof ListModelsRequestSchema> {
  return {
    query: f.query.trim(),
    filter: f.provider === "" ? "" : `spec.provider = ${filterString(f.provider)}`,
    status: f.status === "enabled" ? ModelStatus.ENABLED : f.status === "disabled" ? ModelStatus.DISABLED : ModelStatus.UNSPECIFIED,
    orderBy: f.sort,
    showDeleted: f.showDeleted,
    limit: pageSize,
    cursor,
  };
}
