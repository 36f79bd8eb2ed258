import { useState } from "preact/hooks";
import type { ImportModelsResponse } from "../../../gen/modelservice/v1/model_service_pb.js";
import { listRequest, type CatalogFilters } from "../catalog-query.js";
import { errorLine } from "../error-text.js";
import { modelService } from "../service-client.js";

interface Props {
  filters: CatalogFilters;
  /** After an import wrote models. */
  onImported: (summary: string) => void;
}

interface Pending {
  file: File;
  csv: Uint8Array;
  plan: ImportModelsResponse;
}

const rows = (n: number) => (n === 1 ? "1 model" : `${n} models`);

/** What an import did, or would do in a dry run, in a sentence. */
export function importSummary(r: ImportModelsResponse): string {
  const verbs = r.dryRun ? ["would create", "would update", "would leave"] : ["created", "updated", "left"];
  const refused = r.errors.length === 0 ? "" : ` ${r.errors.length === 1 ? "1 row is" : `${r.errors.length} rows are`} refused.`;
  return `${r.dryRun ? "This import" : "The import"} ${verbs[0]} ${rows(r.createdCount)}, ${verbs[1]} ${rows(r.updatedCount)} and ${verbs[2]} ${rows(r.unchangedCount)} unchanged.${refused}`;
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
      const parts: Uint8Array[] = [];
      for await (const body of modelService.exportModels({ query, filter, status, showDeleted })) parts.push(body.data);
      download(`models-${new Date().toISOString().slice(0, 10)}.csv`, parts);
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
      setPending({ file, csv, plan: await importCsv(csv, true) });
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
            <p>
              <strong>{pending.file.name}</strong>: {importSummary(plan)}
            </p>
            {plan.errors.length > 0 && (
              <table class="plain">
                <caption>Rows refused (they are skipped if you apply)</caption>
                <thead>
                  <tr>
                    <th scope="col">Row</th>
                    <th scope="col">Column</th>
                    <th scope="col">Why</th>
                  </tr>
                </thead>
                <tbody>
                  {plan.errors.map((e, i) => (
                    <tr key={i}>
                      <td>{e.row}</td>
                      <td>{e.column || "—"}</td>
                      <td>{e.reason}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
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
