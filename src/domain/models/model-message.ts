import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { createHash } from "node:crypto";
import { ModelCapability, ModelOrigin, ModelSchema, ModelStatus, type Model } from "../../../gen/modelservice/v1/model_pb.js";
import type { ModelRecord, StoredModelStatus } from "../../storage/model-store.js";
import { priceOverrideFields } from "../catalog/override-fields.js";
import { factFields } from "./spec-facts.js";

const capabilityByName = new Map(
  Object.entries(ModelCapability)
    .filter((e): e is [string, number] => typeof e[1] === "number")
    .map(([name, value]) => [`MODEL_CAPABILITY_${name}`, value as ModelCapability]),
);

export function capabilityName(capability: ModelCapability): string {
  return `MODEL_CAPABILITY_${ModelCapability[capability]}`;
}

export function storedStatus(status: ModelStatus.ENABLED | ModelStatus.DISABLED): StoredModelStatus {
  return status === ModelStatus.ENABLED ? "MODEL_STATUS_ENABLED" : "MODEL_STATUS_DISABLED";
}

/** The opaque etag of a model version: it changes on every write and reveals nothing. */
export function etagOf(record: Pick<ModelRecord, "id" | "version">): string {
  return createHash("sha256").update(`${record.id}:${record.version}`).digest("base64url").slice(0, 16);
}

function orUndefined<T>(value: T | null): T | undefined {
  return value === null ? undefined : value;
}

function bigintOrUndefined(n: number | null): bigint | undefined {
  return n === null ? undefined : BigInt(n);
}

function disabledReason(r: ModelRecord): string | undefined {
  if (r.deleteTime !== null) return "the model is deleted";
  if (r.spec.lifecycle?.stage === "LIFECYCLE_STAGE_RETIRED") {
    const replacement = r.spec.lifecycle.replacement;
    return `retired: gone from the catalog data${typeof replacement === "string" ? `; replaced by ${replacement}` : ""}`;
  }
  if (r.workspaceId !== null && !r.visible) return "hidden by the platform: it keeps working where it is already used";
  if (r.status === "MODEL_STATUS_DISABLED") return "disabled in this workspace";
  return undefined;
}

/** Whether the caller may update the model: a workspace's own model with models:update, a system model with models:admin. */
export function canEdit(r: ModelRecord, scopes: ReadonlySet<string>): boolean {
  if (r.workspaceId === null) return scopes.has("models:admin");
  return r.origin === "MODEL_ORIGIN_WORKSPACE" && scopes.has("models:update");
}

/** The API resource for a stored model, as the caller sees it. Secrets never leave: only their flags. */
export function toModelMessage(r: ModelRecord, scopes: ReadonlySet<string>): Model {
  const s = r.spec;
  const c = r.credentials;
  return create(ModelSchema, {
    metadata: {
      id: r.id,
      accountId: r.accountId ?? "",
      createdAt: timestampFromMs(r.createdAt),
      name: r.name,
      profileId: r.profileId,
      workspaceId: r.workspaceId ?? "",
      bundleKey: orUndefined(r.bundleKey),
      externalId: orUndefined(r.externalId),
      labels: r.labels,
      updatedAt: timestampFromMs(r.updatedAt),
      catalogId: orUndefined(r.catalogId),
      etag: etagOf(r),
      deleteTime: r.deleteTime === null ? undefined : timestampFromMs(r.deleteTime),
      purgeTime: r.purgeTime === null ? undefined : timestampFromMs(r.purgeTime),
      origin: r.origin === "MODEL_ORIGIN_SYSTEM" ? ModelOrigin.SYSTEM : ModelOrigin.WORKSPACE,
      canEdit: canEdit(r, scopes),
    },
    spec: {
      family: orUndefined(s.family),
      provider: orUndefined(s.provider),
      inputPricePerMillionTokens: bigintOrUndefined(s.inputPriceCents),
      outputPricePerMillionTokens: bigintOrUndefined(s.outputPriceCents),
      cachedInputPricePerMillionTokens: bigintOrUndefined(s.cachedInputPriceCents),
      inputPricePerMillionTokensUsd: orUndefined(s.inputPriceUsd),
      outputPricePerMillionTokensUsd: orUndefined(s.outputPriceUsd),
      cachedInputPricePerMillionTokensUsd: orUndefined(s.cachedInputPriceUsd),
      maxInputTokens: orUndefined(s.maxInputTokens),
      maxOutputTokens: orUndefined(s.maxOutputTokens),
      status: r.status === null ? undefined : r.status === "MODEL_STATUS_ENABLED" ? ModelStatus.ENABLED : ModelStatus.DISABLED,
      capabilities: s.capabilities.flatMap((name) => capabilityByName.get(name) ?? []),
      description: orUndefined(s.description),
      modelUrl: orUndefined(s.modelUrl),
      hasToken: c.hasToken,
      hasClientKey: c.hasClientKey,
      credentialFingerprint: orUndefined(c.fingerprint),
      credentialsUpdatedAt: c.updatedAt === null ? undefined : timestampFromMs(c.updatedAt),
      disabledReason: disabledReason(r),
      visible: r.workspaceId === null ? r.visible : undefined,
      ...factFields(s),
      ...priceOverrideFields(s),
    },
  });
}
