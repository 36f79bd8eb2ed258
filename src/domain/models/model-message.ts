import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { ModelCapability, ModelSchema, ModelStatus, type Model } from "../../../gen/modelservice/v1/model_pb.js";
import type { ModelRecord, StoredModelStatus } from "../../storage/model-store.js";

const capabilityByName = new Map(
  Object.entries(ModelCapability)
    .filter((e): e is [string, number] => typeof e[1] === "number")
    .map(([name, value]) => [`MODEL_CAPABILITY_${name}`, value as ModelCapability]),
);

export function storedStatus(status: ModelStatus.ENABLED | ModelStatus.DISABLED): StoredModelStatus {
  return status === ModelStatus.ENABLED ? "MODEL_STATUS_ENABLED" : "MODEL_STATUS_DISABLED";
}

function bigintOrUndefined(n: number | null): bigint | undefined {
  return n === null ? undefined : BigInt(n);
}

/** The API resource for a stored model. */
export function toModelMessage(r: ModelRecord): Model {
  const s = r.spec;
  return create(ModelSchema, {
    metadata: {
      id: r.id,
      accountId: r.accountId,
      createdAt: timestampFromMs(r.createdAt),
      name: r.name,
      profileId: r.profileId,
      workspaceId: r.workspaceId,
      bundleKey: r.bundleKey ?? undefined,
      externalId: r.externalId ?? undefined,
      labels: r.labels,
      updatedAt: timestampFromMs(r.updatedAt),
      catalogId: r.catalogId ?? undefined,
    },
    spec: {
      family: s.family ?? undefined,
      provider: s.provider ?? undefined,
      inputPricePerMillionTokens: bigintOrUndefined(s.inputPriceCents),
      outputPricePerMillionTokens: bigintOrUndefined(s.outputPriceCents),
      cachedInputPricePerMillionTokens: bigintOrUndefined(s.cachedInputPriceCents),
      inputPricePerMillionTokensUsd: s.inputPriceUsd ?? undefined,
      outputPricePerMillionTokensUsd: s.outputPriceUsd ?? undefined,
      cachedInputPricePerMillionTokensUsd: s.cachedInputPriceUsd ?? undefined,
      maxInputTokens: s.maxInputTokens ?? undefined,
      maxOutputTokens: s.maxOutputTokens ?? undefined,
      status: r.status === "MODEL_STATUS_ENABLED" ? ModelStatus.ENABLED : ModelStatus.DISABLED,
      capabilities: s.capabilities.flatMap((c) => capabilityByName.get(c) ?? []),
    },
  });
}
