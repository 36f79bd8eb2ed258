import type { DescField } from "@bufbuild/protobuf";
import { ModelSpecSchema, ResourceMetadataSchema } from "../../gen/modelservice/v1/model_pb.js";
import { fieldRules } from "../proto/field-rules.js";
import type { ModelField } from "./model-form-values.js";

/** The Model field each form field writes, whose rules in the proto bound the input. */
const fieldOf: Readonly<Record<ModelField, DescField>> = {
  name: ResourceMetadataSchema.field.name,
  externalId: ResourceMetadataSchema.field.externalId,
  labels: ResourceMetadataSchema.field.labels,
  provider: ModelSpecSchema.field.provider,
  family: ModelSpecSchema.field.family,
  description: ModelSpecSchema.field.description,
  modelUrl: ModelSpecSchema.field.modelUrl,
  inputPrice: ModelSpecSchema.field.inputPricePerMillionTokensUsd,
  outputPrice: ModelSpecSchema.field.outputPricePerMillionTokensUsd,
  cachedInputPrice: ModelSpecSchema.field.cachedInputPricePerMillionTokensUsd,
  capabilities: ModelSpecSchema.field.capabilities,
  maxInputTokens: ModelSpecSchema.field.maxInputTokens,
  maxOutputTokens: ModelSpecSchema.field.maxOutputTokens,
};

/** The most characters a form field takes: the proto's (modelservice.v1.rules).max_length of its field, if any. */
export function maxLengthOf(field: ModelField): number | undefined {
  return fieldRules(fieldOf[field])?.maxLength;
}
