import type { JsonObject } from "@bufbuild/protobuf";
import type { CatalogEntryRecord, FieldChangeRecord, ListPosition, ModelRecord, ModelStore } from "../../storage/model-store.js";
import { copyRules } from "./catalog-copies.js";
import type { CopyContext } from "./catalog-sync.js";
import { syncCatalog } from "./catalog-sync.js";
import { fieldChanges } from "../models/revision-diff.js";
import { catalogChanges, pricingChanged } from "./catalog-diff.js";
import { catalogEntries } from "./catalog-entries.js";
import { loadPriceData, type CatalogSourceSettings } from "./catalog-source.js";
import { nextPriceHistory } from "./price-history.js";
import { PriceDataError, type PriceData } from "./price-data.js";
import { invalidArgument } from "../validation/field-violations.js";
import { recordUpstreamChange } from "./upstream-change.js";

/** What a refresh found, and did unless it was a dry run. */
export interface CatalogRefreshResult {
  added: string[];
  changed: Array<{ catalogId: string; changes: FieldChangeRecord[] }>;
  /** Catalog ids gone from the data: retired (never deleted). */
  removed: string[];
  copiesCreated: number;
  dataVersion: string;
  dryRun: boolean;
}

/** Who a refresh's revisions name. */
export interface RefreshActor {
  profileId: string;
  requestId: string;
}

export interface CatalogRefreshOptions {
  dryRun: boolean;
  /** "" (bundled data), a path, or an https URL. */
  source: string;
  actor: RefreshActor;
}

/** Shipped system models have a catalog id of their own; an admin's carry their model id. */
function isShipped(m: ModelRecord): boolean {
  return m.catalogId !== null && m.catalogId !== m.id;
}

function isRetired(m: ModelRecord): boolean {
  return m.spec.lifecycle?.stage === "LIFECYCLE_STAGE_RETIRED";
}

/**
 * Refreshes the catalog from price data: diffs the data's entries against the
 * system models, and (unless a dry run) adds and updates them, appends price
 * changes to their history, and retires the models gone from the data:
 * lifecycle RETIRED, hidden from new workspaces, shown disabled in the
 * workspaces that have them, with a revision. Nothing is ever deleted.
 */
export class CatalogRefresher {
  constructor(
    private readonly store: ModelStore,
    private readonly settings: CatalogSourceSettings,
    private readonly copyContext: () => CopyContext,
    private readonly newRevisionId: () => string,
  ) {}

  private async systemModels(): Promise<ModelRecord[]> {
    const all: ModelRecord[] = [];
    let after: ListPosition | undefined;
    for (;;) {
      const page = await this.store.listModels({
        workspaceId: null,
        limit: 1000,
        after,
        search: [],
        labels: [],
        showDeleted: true,
        showHidden: true,
        order: [],
        rankBySearch: false,
        descending: false,
        facets: false,
        skipTotal: true,
      });
      all.push(...page.models);
      after = page.positions[page.positions.length - 1];
      if (page.models.length < 1000 || !after) return all;
    }
  }

  async refresh(options: CatalogRefreshOptions): Promise<CatalogRefreshResult> {
    const data = await loadPriceData(options.source, this.settings);
    const { now } = this.copyContext();
    const built = entriesOf(data, now);
    const systems = (await this.systemModels()).filter(isShipped);
    const byCatalogId = new Map(systems.map((m) => [m.catalogId!, m]));
    const result: CatalogRefreshResult = { added: [], changed: [], removed: [], copiesCreated: 0, dataVersion: data.version, dryRun: options.dryRun };
    const restored: ModelRecord[] = [];
    const repriced: Array<{ catalogId: string; changes: FieldChangeRecord[] }> = [];
    const entries = built.map((entry): CatalogEntryRecord => {
      const stored = byCatalogId.get(entry.catalogId);
      const retrievedAt = new Date(now).toISOString();
      if (!stored) {
        result.added.push(entry.catalogId);
        return { ...entry, spec: { ...entry.spec, source: { ...entry.spec.source, retrievedAt } } };
      }
      const changes = catalogChanges(stored, entry);
      const priceHistory = nextPriceHistory(stored.spec, entry.spec, now);
      if (changes.length === 0) {
        // Unchanged: passed on exactly as last applied, so the store sees nothing new.
        return { ...entry, spec: { ...entry.spec, priceHistory, source: stored.spec.source } };
      }
      result.changed.push({ catalogId: entry.catalogId, changes });
      if (pricingChanged(changes)) repriced.push({ catalogId: entry.catalogId, changes: changes.filter((c) => c.field.startsWith("spec.pricing.")) });
      if (isRetired(stored) && !stored.visible) restored.push(stored);
      return { ...entry, spec: { ...entry.spec, priceHistory, source: { ...entry.spec.source, retrievedAt } } };
    });
    const present = new Set(built.map((e) => e.catalogId));
    const gone = systems.filter((m) => !present.has(m.catalogId!) && m.deleteTime === null && !isRetired(m));
    result.removed = gone.map((m) => m.catalogId!);
    if (options.dryRun) return result;

    result.copiesCreated = (await syncCatalog(this.store, entries, this.copyContext())).copiesCreated;
    for (const m of gone) await this.write(m, { ...m, visible: false, spec: { ...m.spec, lifecycle: retiredLifecycle(m.spec.lifecycle, now) } }, options.actor);
    for (const m of restored) {
      const current = await this.store.getModel(null, m.id);
      if (current) await this.write(current, { ...current, visible: true }, options.actor);
    }
    for (const { catalogId, changes } of repriced) {
      const system = await this.store.getModel(null, byCatalogId.get(catalogId)!.id);
      if (system) await recordUpstreamChange(this.store, { system, changes, detectedAt: now, actor: options.actor }, this.newRevisionId);
    }
    return result;
  }

  /** A new version of a system model with its revision; its workspace copies follow. */
  private async write(before: ModelRecord, after: ModelRecord, actor: RefreshActor): Promise<void> {
    const context = this.copyContext();
    const model: ModelRecord = { ...after, version: before.version + 1, updatedAt: context.now };
    await this.store.writeModel({
      model,
      expectedVersion: before.version,
      revision: {
        id: this.newRevisionId(),
        modelId: model.id,
        action: "REVISION_ACTION_UPDATE",
        profileId: actor.profileId,
        requestId: actor.requestId,
        changes: fieldChanges(before, model),
        createdAt: context.now,
      },
      copies: copyRules,
    });
  }
}

/** The entries of the data; data that cannot make a catalog is the request's source's fault. */
function entriesOf(data: PriceData, now: number): CatalogEntryRecord[] {
  try {
    return catalogEntries(data, now);
  } catch (e) {
    if (e instanceof PriceDataError) throw invalidArgument([{ field: "source", description: e.message }]);
    throw e;
  }
}

/** RETIRED from now, keeping the dates and replacement the overlay gave. */
function retiredLifecycle(lifecycle: JsonObject | null, now: number): JsonObject {
  return { ...lifecycle, stage: "LIFECYCLE_STAGE_RETIRED", retiresAt: lifecycle?.retiresAt ?? new Date(now).toISOString() };
}
