import { timestampDate } from "@bufbuild/protobuf/wkt";
import { useEffect, useState } from "preact/hooks";
import { RevisionAction, type ModelRevision } from "../../../gen/modelservice/v1/model_service_pb.js";
import { errorText } from "../error-text.js";
import { dateTime } from "../format.js";
import { modelService } from "../service-client.js";
import { TableHead } from "./table-head.js";

const actionNames: Record<RevisionAction, string> = {
  [RevisionAction.UNSPECIFIED]: "Changed",
  [RevisionAction.CREATE]: "Created",
  [RevisionAction.UPDATE]: "Updated",
  [RevisionAction.SET_STATUS]: "Status set",
  [RevisionAction.ROTATE_CREDENTIALS]: "Credentials replaced",
  [RevisionAction.DELETE]: "Deleted",
  [RevisionAction.UNDELETE]: "Undeleted",
};

/** A field's value as the revision holds it (JSON text), or "unset". */
const shown = (value: string | undefined) => (value === undefined ? "unset" : value);

/**
 * The model's recorded changes, newest first, from ListModelRevisions: who
 * changed which field from what to what. `version` (the model's etag) reloads
 * them after a change made on this page.
 */
export function ModelRevisions({ id, version }: { id: string; version: string }) {
  const [items, setItems] = useState<ModelRevision[]>([]);
  const [total, setTotal] = useState<number>();
  const [cursor, setCursor] = useState("");
  const [problem, setProblem] = useState<string>();

  const load = (from: string) =>
    modelService.listModelRevisions({ id, cursor: from, limit: 20 }).then(
      (r) => {
        setItems((before) => (from === "" ? r.items : [...before, ...r.items]));
        setTotal(r.pagination?.total);
        setCursor(r.pagination?.nextCursor ?? "");
        setProblem(undefined);
      },
      (e: unknown) => setProblem(errorText(e).message),
    );

  useEffect(() => {
    void load("");
  }, [id, version]);

  return (
    <section class="revisions" aria-labelledby="revisions-title">
      <h2 id="revisions-title">History{total === undefined ? "" : ` (${total === 1 ? "1 change" : `${total} changes`})`}</h2>
      {problem && (
        <p class="alert" role="alert">
          Could not load the history. {problem}
        </p>
      )}
      <ol class="revision-list">
        {items.map((r) => (
          <li key={r.id} class="revision">
            <p class="revision-head">
              <strong>{actionNames[r.action] ?? "Changed"}</strong> {r.createTime && dateTime(timestampDate(r.createTime))}
              {r.profileId && <span class="sub">by {r.profileId}</span>}
            </p>
            {r.changes.length > 0 && (
              <table class="plain diff">
                <caption class="visually-hidden">Fields changed</caption>
                <TableHead columns={["Field", "Before", "After"]} />
                <tbody>
                  {r.changes.map((c) => (
                    <tr key={c.field}>
                      <th scope="row">{c.field}</th>
                      <td class="old">{shown(c.oldValue)}</td>
                      <td class="new">{shown(c.newValue)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </li>
        ))}
      </ol>
      {items.length === 0 && !problem && <p class="summary">No recorded change.</p>}
      {cursor !== "" && (
        <button type="button" onClick={() => void load(cursor)}>
          Show older changes
        </button>
      )}
    </section>
  );
}
