import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { HttpBodySchema, type HttpBody } from "../../../gen/google/api/httpbody_pb.js";
import { BadRequestSchema } from "../../../gen/google/rpc/error_details_pb.js";
import { ModelOrigin, ModelSchema, type Model } from "../../../gen/modelservice/v1/model_pb.js";
import {
  CreateModelRequestSchema,
  ImportModelsResponseSchema,
  ImportRowErrorSchema,
  UpdateModelRequestSchema,
  type ExportModelsRequest,
  type ImportModelsRequest,
  type ImportModelsResponse,
  type ImportRowError,
} from "../../../gen/modelservice/v1/model_service_pb.js";
import type { CheckedFilterNode } from "../../storage/model-filter.js";
import type { ModelListQuery, ModelRecord, ModelStore } from "../../storage/model-store.js";
import { DeadlinePassed } from "../errors/store-errors.js";
import { requireChangeScopes } from "../auth/change-scopes.js";
import type { Principal } from "../auth/principal.js";
import { invalidArgument } from "../validation/field-violations.js";
import { validateRequest } from "../validation/request-validation.js";
import { columnOfPath, modelCsvContentType, updatePathOf } from "./model-csv.js";
import { parseModelCsv, type ModelCsvRow } from "./model-csv-read.js";
import { csvText, modelCsvHeader, modelCsvRecord } from "./model-csv-write.js";
import { modelCsvColumns, type ModelCsvColumn } from "../../proto/model-csv-columns.js";
import { toModelMessage } from "./model-message.js";
import { modelPages } from "./model-pages.js";
import type { Call, ModelRegistry, Step } from "./model-registry.js";
import { TimeSlice } from "./time-slice.js";
import { filterQuery, listFilterViolations } from "./list-query.js";

export interface TransferOptions {
  /** Largest CSV an import takes (the configured max body size). */
  maxCsvBytes: number;
  /** Most data rows an import takes. */
  maxRows?: number;
  /** Models read per store query (export, and the catalog index of an import). */
  pageSize?: number;
  /** Export output is handed on in chunks of about this many bytes (whole rows). */
  chunkBytes?: number;
}

export const maxImportRows = 100_000;

/** Content types an import accepts for its CSV ("" when the caller gave none). */
const csvContentTypes = /^(text\/csv|application\/csv|text\/comma-separated-values|text\/plain|application\/octet-stream|application\/vnd\.ms-excel)\s*(;|$)/i;
const charsetParameter = /;\s*charset\s*=\s*"?([^";\s]+)"?/i;

/** Errors of a row's write that are about the row, reported per row; anything else fails the import. */
const rowCodes = new Set([
  Code.InvalidArgument,
  Code.FailedPrecondition,
  Code.AlreadyExists,
  Code.Aborted,
  Code.NotFound,
  Code.PermissionDenied,
  Code.OutOfRange,
]);

class RowFailure extends Error {
  constructor(
    readonly column: ModelCsvColumn | "",
    reason: string,
  ) {
    super(reason);
  }
}

type RowOutcome = "created" | "updated" | "unchanged";

/** What a row will do, and the write that does it (none when unchanged). */
interface PlannedRow {
  outcome: RowOutcome;
  step?: Step;
}

type ExportQuery = Omit<ModelListQuery, "limit" | "after">;

/**
 * The store query of an export's filters (those of ListModels, checked as
 * ListModels checks them), or InvalidArgument naming each bad one; undefined
 * matches nothing. Checked here rather than by the validation interceptor, so
 * that a filter the descriptor's rules refuse (a NUL) is not refused twice.
 */
function exportQuery(workspaceId: string, req: ExportModelsRequest): ExportQuery | undefined {
  const violations = listFilterViolations(req);
  if (violations.length > 0) throw invalidArgument(violations);
  const filters = filterQuery(workspaceId, req);
  if (filters === undefined) return undefined;
  return {
    ...filters,
    // Creation order, whatever the search: the keyset walk needs a total order and a stable file.
    order: [],
    rankBySearch: false,
    descending: false,
    facets: false,
  };
}

const catalogCopyFilter: CheckedFilterNode = { kind: "enum", field: "metadata.origin", op: "=", value: "MODEL_ORIGIN_SYSTEM" };

/** The row errors of a failed write: one per field violation, its column named when a column holds the field. */
function rowErrors(row: number, e: unknown): Array<Pick<ImportRowError, "row" | "column" | "reason">> {
  if (e instanceof RowFailure) return [{ row, column: e.column, reason: e.message }];
  if (!(e instanceof ConnectError) || !rowCodes.has(e.code)) throw e;
  const violations = e.findDetails(BadRequestSchema).flatMap((d) => d.fieldViolations);
  if (violations.length > 0) {
    return violations.map((v) => {
      const column = columnOfPath(v.field);
      return { row, column, reason: column === "" ? `${v.field}: ${v.description}` : v.description };
    });
  }
  return [{ row, column: e.code === Code.AlreadyExists ? "externalId" : "", reason: e.rawMessage }];
}

/**
 * CSV export and import of a workspace's models (ExportModels, ImportModels).
 * Export streams: it walks the workspace a page at a time and hands on whole
 * rows in chunks, so memory stays flat however many models there are. Import
 * plans row by row through the registry's create and update (the same rules,
 * audit records and revisions), each row on its own, then writes every row in
 * one transaction.
 */
export class ModelTransfer {
  private readonly maxCsvBytes: number;
  private readonly maxRows: number;
  private readonly pageSize: number;
  private readonly chunkBytes: number;

  constructor(
    private readonly store: ModelStore,
    private readonly registry: ModelRegistry,
    options: TransferOptions,
  ) {
    this.maxCsvBytes = options.maxCsvBytes;
    this.maxRows = options.maxRows ?? maxImportRows;
    this.pageSize = options.pageSize ?? 100;
    this.chunkBytes = options.chunkBytes ?? 16 * 1024;
  }

  /** Every page of a store query, in order, one page in memory at a time. */
  /**
   * The CSV of the workspace's models that match the request's filters: the
   * header, then the rows in creation order, in chunks of whole rows. A bad
   * filter fails before the first byte.
   */
  async *export(principal: Principal, req: ExportModelsRequest): AsyncGenerator<Uint8Array> {
    const query = exportQuery(principal.workspaceId, req);
    const encoder = new TextEncoder();
    let pending = modelCsvHeader();
    const slice = new TimeSlice();
    if (query) {
      for await (const page of modelPages(this.store, query, this.pageSize)) {
        for (const record of page) {
          pending += csvText([modelCsvRecord(toModelMessage(record, principal.scopes))]);
          if (pending.length >= this.chunkBytes) {
            yield encoder.encode(pending);
            pending = "";
          }
          // Pages come from the store synchronously and a fast client never pushes back: let other calls in now and then.
          await slice.pause();
        }
      }
    }
    if (pending !== "") yield encoder.encode(pending);
  }

  /** export() as the google.api.HttpBody messages of the ExportModels stream (text/csv). */
  async *exportBodies(principal: Principal, req: ExportModelsRequest): AsyncGenerator<HttpBody> {
    for await (const data of this.export(principal, req)) yield create(HttpBodySchema, { contentType: modelCsvContentType, data });
  }

  /**
   * Imports the CSV of an export, each row on its own: a row whose id is a
   * live model of the workspace updates that model; else a row with a
   * catalogId sets the labels, status and price override of the
   * workspace's copy of that catalog model; a row whose externalId a live
   * model of the workspace has updates the columns that differ; any other
   * row creates a workspace model.
   * (A catalog copy matched by id, too, takes only labels, status and price override.) Rows that
   * cannot be imported are reported (row, column, reason) and the others
   * still are, all in one transaction: past the call's deadline no row is
   * written. A dry run checks every row the same way and writes nothing.
   */
  async import(call: Call, req: ImportModelsRequest): Promise<ImportModelsResponse> {
    const csv = req.csv;
    if (!csv) throw invalidArgument([{ field: "csv", description: "is required" }]);
    this.checkContentType(csv.contentType);
    if (csv.data.byteLength > this.maxCsvBytes) {
      throw invalidArgument([{ field: "csv.data", description: `is larger than ${this.maxCsvBytes} bytes` }]);
    }
    if (csv.data.byteLength === 0) throw invalidArgument([{ field: "csv.data", description: "is empty: the CSV needs at least its header row" }]);
    const file = await parseModelCsv(csv.data, { maxRows: this.maxRows });
    const copies = await this.catalogCopies(call.principal.workspaceId);
    const result = create(ImportModelsResponseSchema, { dryRun: req.dryRun });
    /** "catalogId:x" / "externalId:y" -> the row that named it first. */
    const firstRow = new Map<string, number>();
    const planned: Array<PlannedRow & { row: number; idUnmatched: boolean }> = [];
    const slice = new TimeSlice();
    for (const parsed of file.rows) {
      // The store answers synchronously under its promises: let other requests and probes in now and then.
      await slice.pause();
      // The caller has been answered DeadlineExceeded: planning the rest would be wasted, nothing will be written.
      if (call.deadline !== undefined && Date.now() >= call.deadline) throw new DeadlinePassed();
      if (!parsed.ok) {
        result.errors.push(...parsed.errors.map((e) => create(ImportRowErrorSchema, e)));
        continue;
      }
      const row = parsed.value;
      try {
        if (row.id !== undefined) {
          const first = firstRow.get(`id:${row.id}`);
          if (first !== undefined) throw new RowFailure("id", `"${row.id.slice(0, 128)}" is already the id of row ${first}`);
          firstRow.set(`id:${row.id}`, row.row);
        }
        const [keyColumn, key] = row.catalogId !== undefined ? ["catalogId", row.catalogId] : ["externalId", row.model.metadata?.externalId];
        if (key !== undefined) {
          const first = firstRow.get(`${keyColumn}:${key}`);
          if (first !== undefined) throw new RowFailure(keyColumn as ModelCsvColumn, `"${key.slice(0, 128)}" is already the ${keyColumn} of row ${first}`);
          firstRow.set(`${keyColumn}:${key}`, row.row);
        }
        planned.push({ row: row.row, idUnmatched: row.id !== undefined, ...(await this.importRow(call, row, file.columns, copies, req.dryRun)) });
      } catch (e) {
        result.errors.push(...rowErrors(row.row, e).map((r) => create(ImportRowErrorSchema, r)));
      }
    }
    // Every row's write in one transaction: at the deadline nothing is written, however many rows were ready.
    const written = await this.registry.writeEach(planned.flatMap((p) => p.step ?? []));
    let w = 0;
    for (const { row, outcome, step, idUnmatched } of planned) {
      const model = step === undefined ? undefined : written[w++];
      if (model instanceof ConnectError) result.errors.push(...rowErrors(row, model).map((r) => create(ImportRowErrorSchema, r)));
      else if (outcome === "created") {
        result.createdCount++;
        if (idUnmatched) result.unmatchedIdCount++;
      }
      else if (outcome === "updated") result.updatedCount++;
      else result.unchangedCount++;
    }
    result.errors.sort((a, b) => a.row - b.row);
    return result;
  }

  private checkContentType(contentType: string): void {
    if (contentType === "") return;
    const charset = charsetParameter.exec(contentType)?.[1]?.toLowerCase();
    if (!csvContentTypes.test(contentType) || (charset !== undefined && charset !== "utf-8" && charset !== "utf8" && charset !== "us-ascii")) {
      throw invalidArgument([{ field: "csv.contentType", description: `must be text/csv (UTF-8), not "${contentType.slice(0, 64)}"` }]);
    }
  }

  /** The workspace's live copies of catalog models, by catalog id (hidden ones too: they keep working where used). */
  private async catalogCopies(workspaceId: string): Promise<Map<string, ModelRecord>> {
    const copies = new Map<string, ModelRecord>();
    const query: ExportQuery = {
      workspaceId,
      search: [],
      labels: [],
      showDeleted: false,
      showHidden: true,
      filter: catalogCopyFilter,
      order: [],
      rankBySearch: false,
      descending: false,
      facets: false,
    };
    for await (const page of modelPages(this.store, query, this.pageSize)) {
      for (const record of page) if (record.catalogId !== null && record.origin === "MODEL_ORIGIN_SYSTEM") copies.set(record.catalogId, record);
    }
    return copies;
  }

  private async importRow(
    call: Call,
    row: ModelCsvRow,
    columns: readonly ModelCsvColumn[],
    copies: ReadonlyMap<string, ModelRecord>,
    dryRun: boolean,
  ): Promise<PlannedRow> {
    if (row.deleted) throw new RowFailure("deleteTime", "is set: deleted models are not imported (export without showDeleted)");
    // The id first: a row exported from this workspace is that model, whatever its other columns say.
    const byId = row.id === undefined ? undefined : await this.store.getModel(call.principal.workspaceId, row.id);
    if (byId && byId.deleteTime === null) {
      return byId.origin === "MODEL_ORIGIN_SYSTEM" ? this.updateCopy(call, byId, row, columns, dryRun) : this.update(call, byId, row.model, columns, dryRun);
    }
    if (row.catalogId !== undefined || row.origin === ModelOrigin.SYSTEM) {
      if (row.catalogId === undefined) throw new RowFailure("catalogId", "is required on MODEL_ORIGIN_SYSTEM rows: it names the catalog model the row is a copy of");
      if (row.origin === ModelOrigin.WORKSPACE) throw new RowFailure("catalogId", "is only for MODEL_ORIGIN_SYSTEM rows (copies of catalog models)");
      const copy = copies.get(row.catalogId);
      if (!copy) throw new RowFailure("catalogId", `"${row.catalogId.slice(0, 128)}" is no catalog model of this workspace`);
      return this.updateCopy(call, copy, row, columns, dryRun);
    }
    const externalId = row.model.metadata?.externalId;
    const existing = externalId === undefined ? undefined : await this.store.findByExternalId(call.principal.workspaceId, externalId);
    if (existing) return this.update(call, existing, row.model, columns, dryRun);
    requireChangeScopes(call.principal, ["create"], "the row creates a model");
    const req = create(CreateModelRequestSchema, { model: row.model, validateOnly: dryRun });
    validateRequest(CreateModelRequestSchema, req);
    return { outcome: "created", step: await this.registry.planWorkspaceCreate(call, req) };
  }

  /** A workspace changes only the labels, status and price override of a catalog model; the platform owns the rest of the row. */
  private updateCopy(call: Call, copy: ModelRecord, row: ModelCsvRow, columns: readonly ModelCsvColumn[], dryRun: boolean): Promise<PlannedRow> {
    const { status, priceOverride } = row.model.spec ?? {};
    const model = create(ModelSchema, { metadata: { labels: row.model.metadata?.labels ?? {} }, spec: { status, priceOverride } });
    return this.update(call, copy, model, columns.filter((c) => c === "labels" || c === "status" || c === "priceOverride"), dryRun);
  }

  /** Plans the update of the columns of the row whose values differ from the model's (none: unchanged). */
  private async update(call: Call, record: ModelRecord, model: Model, columns: readonly ModelCsvColumn[], dryRun: boolean): Promise<PlannedRow> {
    const current = modelCsvRecord(toModelMessage(record, call.principal.scopes));
    const wanted = modelCsvRecord(model);
    const paths: string[] = [];
    for (const column of columns) {
      const path = updatePathOf(column);
      // An empty status cell keeps the status: a model always has one.
      if (path === undefined || (column === "status" && model.spec?.status === undefined)) continue;
      const i = modelCsvColumns.indexOf(column);
      if (current[i] !== wanted[i]) paths.push(path);
    }
    if (paths.length === 0) return { outcome: "unchanged" };
    requireChangeScopes(call.principal, ["update"], "the row updates a model");
    const req = create(UpdateModelRequestSchema, { id: record.id, model, updateMask: { paths }, validateOnly: dryRun });
    validateRequest(UpdateModelRequestSchema, req);
    return { outcome: "updated", step: await this.registry.planWorkspaceUpdate(call, req) };
  }
}
