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
import { followRetirement, isRetired } from "./catalog-retirement.js";

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

/**
 * Refreshes the catalog from price data: diffs the data's entries against the
 * system models, and (unless a dry run) adds and updates them, appends price
 * changes to their history, and retires the models gone from the data:
 * lifecycle RETIRED from now, absent from workspaces made later, DISABLED in
 * the workspaces that have them, with revisions (see catalog-retirement.ts).
 * A retired model back in the data returns to every workspace. Nothing is
 * ever deleted.
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
      if (isRetired(stored)) restored.push(stored);
      return { ...entry, spec: { ...entry.spec, priceHistory, source: { ...entry.spec.source, retrievedAt } } };
    });
    const present = new Set(built.map((e) => e.catalogId));
    const gone = systems.filter((m) => !present.has(m.catalogId!) && m.deleteTime === null && !isRetired(m));
    result.removed = gone.map((m) => m.catalogId!);
    if (options.dryRun) return result;

    result.copiesCreated = (await syncCatalog(this.store, entries, this.copyContext())).copiesCreated;
    for (const m of gone) {
      const retired = await this.write(m, { ...m, spec: { ...m.spec, lifecycle: retiredLifecycle(m.spec.lifecycle, now) } }, options.actor);
      if (retired) await this.followLifecycle(retired, options.actor);
    }
    for (const m of restored) {
      const current = await this.store.getModel(null, m.id);
      // The data already replaced the lifecycle (syncCatalog, no revision): the revision says so. Hidden by an earlier release: shown.
      const back = current && (await this.write(current, { ...current, visible: true }, options.actor, m));
      if (back) await this.followLifecycle(back, options.actor);
    }
    for (const { catalogId, changes } of repriced) {
      const system = await this.store.getModel(null, byCatalogId.get(catalogId)!.id);
      if (system) await recordUpstreamChange(this.store, { system, changes, detectedAt: now, actor: options.actor }, this.newRevisionId);
    }
    return result;
  }

  /** The copies that are rows follow a system model's retirement or return, by the lifecycle change of its revision. */
  private async followLifecycle(written: { model: ModelRecord; changes: FieldChangeRecord[] }, actor: RefreshActor): Promise<void> {
    const lifecycle = written.changes.find((c) => c.field === "spec.lifecycle");
    if (lifecycle) await followRetirement(this.store, written.model, lifecycle, actor, written.model.updatedAt, this.newRevisionId);
  }

  /**
   * A new version of a system model with its revision (its changes since
   * `changedFrom`, by default `before`); its workspace copies that are rows
   * inherit it. Undefined when a concurrent write got there first.
   */
  private async write(
    before: ModelRecord,
    after: ModelRecord,
    actor: RefreshActor,
    changedFrom: ModelRecord = before,
  ): Promise<{ model: ModelRecord; changes: FieldChangeRecord[] } | undefined> {
    const context = this.copyContext();
    const model: ModelRecord = { ...after, version: before.version + 1, updatedAt: context.now };
    const changes = fieldChanges(changedFrom, model);
    const outcome = await this.store.writeModel({
      model,
      expectedVersion: before.version,
      revision: {
        id: this.newRevisionId(),
        modelId: model.id,
        action: "REVISION_ACTION_UPDATE",
        profileId: actor.profileId,
        requestId: actor.requestId,
        changes,
        createdAt: context.now,
      },
      copies: copyRules,
    });
    return outcome.kind === "written" ? { model, changes } : undefined;
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

/**
 * RETIRED from now (retiresAt: workspaces made from then on get no copy),
 * keeping the deprecation date and replacement the overlay gave.
 */
function retiredLifecycle(lifecycle: JsonObject | null, now: number): JsonObject {
  return { ...lifecycle, stage: "LIFECYCLE_STAGE_RETIRED", retiresAt: new Date(now).toISOString() };
}
