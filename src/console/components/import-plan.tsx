import type { ImportModelsResponse } from "../../../gen/modelservice/v1/model_service_pb.js";
import type { RowPlan } from "../import-diff.js";
import { TableHead } from "./table-head.js";

const rows = (n: number) => (n === 1 ? "1 model" : `${n} models`);

/** What an import did, or would do in a dry run, in a sentence. */
export function importSummary(r: ImportModelsResponse): string {
  const verbs = r.dryRun ? ["would create", "would update", "would leave"] : ["created", "updated", "left"];
  const refused = r.errors.length === 0 ? "" : ` ${r.errors.length === 1 ? "1 row is" : `${r.errors.length} rows are`} refused.`;
  return `${r.dryRun ? "This import" : "The import"} ${verbs[0]} ${rows(r.createdCount)}, ${verbs[1]} ${rows(r.updatedCount)} and ${verbs[2]} ${rows(r.unchangedCount)} unchanged.${refused}`;
}

/** Rows shown in the diff; a bigger file is summed up after them. */
const shownRows = 100;

/** A dry run's outcome: the service's counts and refused rows, and each row's changes, field by field. */
export function ImportPlan({ file, plan, diff }: { file: string; plan: ImportModelsResponse; diff: RowPlan[] }) {
  const refused = new Set(plan.errors.map((e) => e.row));
  const changes = diff.filter((d) => !refused.has(d.row));
  return (
    <>
      <p>
        <strong>{file}</strong>: {importSummary(plan)}
      </p>
      {changes.length > 0 && (
        <table class="plain diff import-diff">
          <caption>What changes</caption>
          <TableHead columns={["Row", "Model", "Change"]} />
          <tbody>
            {changes.slice(0, shownRows).map((d) => (
              <tr key={d.row}>
                <td>{d.row}</td>
                <th scope="row">{d.name || "—"}</th>
                <td>
                  {d.action === "create" ? (
                    <span class="new">new model</span>
                  ) : (
                    <ul class="changes">
                      {d.changes.map((c) => (
                        <li key={c.column}>
                          {c.column}: <span class="old">{c.before === "" ? "empty" : c.before}</span> → <span class="new">{c.after === "" ? "empty" : c.after}</span>
                        </li>
                      ))}
                    </ul>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {changes.length > shownRows && <p class="hint">…and {changes.length - shownRows} more rows with changes.</p>}
      {plan.errors.length > 0 && (
        <table class="plain">
          <caption>Rows refused (they are skipped if you apply)</caption>
          <TableHead columns={["Row", "Column", "Why"]} />
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
    </>
  );
}
