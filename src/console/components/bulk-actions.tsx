import { useState } from "preact/hooks";
import type { Model } from "../../../gen/modelservice/v1/model_pb.js";
import type { BatchModelsResponse } from "../../../gen/modelservice/v1/model_service_pb.js";
import { errorLine } from "../error-text.js";
import { modelService } from "../service-client.js";
import { nameOf } from "./model-row.js";

interface Props {
  selected: Model[];
  /** After an action: what it did, in a sentence, and the failures, one line each. */
  onDone: (summary: string, failures: string[]) => void;
  onClear: () => void;
}

type Outcome = { model: Model; error?: string };

const plural = (n: number) => (n === 1 ? "1 model" : `${n} models`);

/** The per-item results of a partial batch, beside the models they were asked for. */
function outcomesOf(models: Model[], res: BatchModelsResponse): Outcome[] {
  return models.map((model, i) => {
    const r = res.results[i]?.result;
    return r?.case === "status" ? { model, error: r.value.message } : { model };
  });
}

/** One call per model, all at once: a page holds at most a few dozen. */
async function each(models: Model[], call: (m: Model) => Promise<unknown>): Promise<Outcome[]> {
  return Promise.all(models.map((model) => call(model).then(() => ({ model }), (e: unknown) => ({ model, error: errorLine(e) }))));
}

/** Keys and values as the service takes them in a label selector ("env=prod"). */
function parseLabel(text: string): [string, string] | undefined {
  const eq = text.indexOf("=");
  if (eq <= 0) return undefined;
  const key = text.slice(0, eq).trim();
  return key === "" ? undefined : [key, text.slice(eq + 1).trim()];
}

/** Enable, disable, delete or label the selected models of the catalog. */
export function BulkActions({ selected, onDone, onClear }: Props) {
  const [label, setLabel] = useState("");
  const [labelError, setLabelError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const run = async (verb: string, act: (models: Model[]) => Promise<Outcome[]>) => {
    setBusy(true);
    try {
      const outcomes = await act(selected);
      const failed = outcomes.filter((o) => o.error !== undefined);
      const done = outcomes.length - failed.length;
      const summary = failed.length === 0 ? `${verb} ${plural(done)}.` : `${verb} ${plural(done)}; ${plural(failed.length)} could not be changed.`;
      onDone(summary, failed.map((o) => `${nameOf(o.model)}: ${o.error}`));
    } catch (e) {
      onDone(`Nothing was changed. ${errorLine(e)}`, []);
    } finally {
      setBusy(false);
    }
  };

  const enable = () => run("Enabled", (ms) => each(ms, (m) => modelService.enableModel({ id: m.metadata?.id ?? "" })));
  const disable = () => run("Disabled", (ms) => each(ms, (m) => modelService.disableModel({ id: m.metadata?.id ?? "" })));
  const remove = () =>
    run("Deleted", async (ms) => outcomesOf(ms, await modelService.batchDeleteModels({ ids: ms.map((m) => m.metadata?.id ?? ""), allowPartial: true })));
  const addLabel = (event: Event) => {
    event.preventDefault();
    const pair = parseLabel(label);
    if (!pair) return setLabelError("Write the label as key=value, e.g. env=prod.");
    setLabelError(undefined);
    const [key, value] = pair;
    void run(`Added the label ${key}=${value} to`, async (ms) =>
      outcomesOf(
        ms,
        await modelService.batchUpdateModels({
          allowPartial: true,
          requests: ms.map((m) => ({
            id: m.metadata?.id ?? "",
            // The etag read: labels someone changed meanwhile are not overwritten (that model fails, Aborted).
            model: { metadata: { name: m.metadata?.name ?? "", etag: m.metadata?.etag ?? "", labels: { ...m.metadata?.labels, [key]: value } } },
            updateMask: { paths: ["metadata.labels"] },
          })),
        }),
      ),
    );
  };

  if (selected.length === 0) return null;
  return (
    <div class="bulk" role="region" aria-label="Actions on the selected models">
      <p class="bulk-count">
        <strong>{plural(selected.length)} selected</strong>{" "}
        <button type="button" class="link" onClick={onClear}>
          Clear selection
        </button>
      </p>
      <div class="bulk-buttons">
        <button type="button" disabled={busy} onClick={enable}>
          Enable
        </button>
        <button type="button" disabled={busy} onClick={disable}>
          Disable
        </button>
        <button type="button" class="danger" disabled={busy} onClick={remove}>
          Delete
        </button>
        <form class="bulk-label" onSubmit={addLabel} noValidate>
          <label for="bulk-label" class="visually-hidden">
            Label to add (key=value)
          </label>
          <input
            id="bulk-label"
            placeholder="key=value"
            value={label}
            aria-invalid={labelError ? true : undefined}
            aria-describedby={labelError ? "bulk-label-error" : undefined}
            onInput={(e) => setLabel(e.currentTarget.value)}
          />
          <button type="submit" disabled={busy}>
            Add label
          </button>
        </form>
      </div>
      {labelError && (
        <p class="field-error" id="bulk-label-error">
          {labelError}
        </p>
      )}
    </div>
  );
}
