import { useState } from "preact/hooks";
import type { ImportModelsResponse } from "../../../gen/modelservice/v1/model_service_pb.js";
import { listRequest, type CatalogFilters } from "../catalog-query.js";
import { errorLine } from "../error-text.js";
import type { RowPlan } from "../import-diff.js";
import { modelService } from "../service-client.js";
import { ImportPlan, importSummary } from "./import-plan.js";

interface Props {
  filters: CatalogFilters;
  /** After an import wrote models. */
  onImported: (summary: string) => void;
}

interface Pending {
  file: File;
  csv: Uint8Array;
  plan: ImportModelsResponse;
  diff: RowPlan[];
}

/** The CSV of ExportModels, in the parts it streamed. */
async function exported(request: Parameters<typeof modelService.exportModels>[0]): Promise<Uint8Array[]> {
  const parts: Uint8Array[] = [];
  for await (const body of modelService.exportModels(request)) parts.push(body.data);
  return parts;
}

function text(parts: Uint8Array[]): string {
  const decoder = new TextDecoder();
  return parts.map((p) => decoder.decode(p, { stream: true })).join("") + decoder.decode();
}

/**
 * The rows' changes; none shown when the page cannot read the file the service
 * accepted (its dry run is the judge). The CSV parser loads only now, so the
 * console's first load stays without it.
 */
async function diffOf(csv: Uint8Array, current: Uint8Array[]): Promise<RowPlan[]> {
  try {
    const { importDiff } = await import("../import-diff.js");
    return importDiff(text([csv]), text(current));
  } catch {
    return [];
  }
}

/** Hands the browser a file to save. */
function download(name: string, parts: Uint8Array[]): void {
  const url = URL.createObjectURL(new Blob(parts as BlobPart[], { type: "text/csv" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 0);
}

/**
 * Export the models the catalog shows (its filters, as CSV) and import a CSV:
 * a dry run first, whose plan is shown, then the import itself on request.
 */
export function TransferPanel({ filters, onImported }: Props) {
  const [pending, setPending] = useState<Pending>();
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string>();

  const exportCsv = async () => {
    setBusy(true);
    setProblem(undefined);
    try {
      const { query, filter, status, showDeleted } = listRequest(filters, "");
      download(`models-${new Date().toISOString().slice(0, 10)}.csv`, await exported({ query, filter, status, showDeleted }));
    } catch (e) {
      setProblem(`The export failed. ${errorLine(e)}`);
    } finally {
      setBusy(false);
    }
  };

  const importCsv = async (csv: Uint8Array, dryRun: boolean) =>
    modelService.importModels({ csv: { contentType: "text/csv", data: csv }, dryRun });

  const check = async (file: File | undefined) => {
    setPending(undefined);
    setProblem(undefined);
    if (!file) return;
    setBusy(true);
    try {
      const csv = new Uint8Array(await file.arrayBuffer());
      const [plan, current] = await Promise.all([importCsv(csv, true), exported({})]);
      setPending({ file, csv, plan, diff: await diffOf(csv, current) });
    } catch (e) {
      setProblem(`Could not check ${file.name}. ${errorLine(e)}`);
    } finally {
      setBusy(false);
    }
  };

  const apply = async () => {
    if (!pending) return;
    setBusy(true);
    try {
      const done = await importCsv(pending.csv, false);
      setPending(undefined);
      onImported(importSummary(done));
    } catch (e) {
      setProblem(`The import failed; nothing was written. ${errorLine(e)}`);
    } finally {
      setBusy(false);
    }
  };

  const plan = pending?.plan;
  return (
    <details class="transfer">
      <summary>Import and export (CSV)</summary>
      <div class="transfer-body">
        <p>
          <button type="button" disabled={busy} onClick={exportCsv}>
            Export CSV
          </button>{" "}
          <span class="hint">The models this list shows, with the filters above; never a secret.</span>
        </p>
        <div class="field">
          <label for="import-file">Import a CSV</label>
          <input id="import-file" type="file" accept=".csv,text/csv" disabled={busy} onChange={(e) => void check(e.currentTarget.files?.[0])} />
          <p class="hint">In the columns of an export. The file is checked first (a dry run); nothing is written until you apply it.</p>
        </div>
        {problem && (
          <p class="alert" role="alert">
            {problem}
          </p>
        )}
        {pending && plan && (
          <div class="import-plan" role="status">
            <ImportPlan file={pending.file.name} plan={plan} diff={pending.diff} />
            <div class="actions">
              <button type="button" class="primary" disabled={busy || plan.createdCount + plan.updatedCount === 0} onClick={apply}>
                Apply import
              </button>
              <button type="button" disabled={busy} onClick={() => setPending(undefined)}>
                Cancel
              </button>
            </div>
          </div>
        )}
      </div>
    </details>
  );
}
