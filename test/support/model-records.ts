import { newModelId } from "../../src/domain/models/model-id.js";
import { noCredentials, type ModelRecord } from "../../src/storage/model-store.js";
import { noFacts } from "../../src/domain/models/spec-facts.js";

export type ModelRecordOverrides = Partial<Omit<ModelRecord, "spec">> & { spec?: Partial<ModelRecord["spec"]> };

/**
 * A workspace's own enabled model as the store keeps it (version 1, no
 * credentials, created and updated `at`), for tests that seed the store
 * directly; `overrides` replace what they name, `spec` field by field.
 */
export function workspaceModelRecord(workspaceId: string, name: string, at: number, overrides: ModelRecordOverrides = {}): ModelRecord {
  const { spec, ...rest } = overrides;
  return {
    id: newModelId(),
    workspaceId,
    accountId: "acct_test",
    name,
    profileId: "profile_test",
    bundleKey: null,
    externalId: null,
    labels: {},
    catalogId: null,
    systemModelId: null,
    origin: "MODEL_ORIGIN_WORKSPACE",
    visible: true,
    spec: {
      family: null,
      provider: "acme",
      inputPriceCents: 100,
      outputPriceCents: 200,
      cachedInputPriceCents: null,
      inputPriceUsd: "1",
      outputPriceUsd: "2",
      cachedInputPriceUsd: null,
      maxInputTokens: 8192,
      maxOutputTokens: 4096,
      capabilities: [],
      description: null,
      modelUrl: null,
      ...noFacts,
      ...spec,
    },
    credentials: noCredentials,
    status: "MODEL_STATUS_ENABLED",
    version: 1,
    createdAt: at,
    updatedAt: at,
    deleteTime: null,
    purgeTime: null,
    ...rest,
  };
}
