import { ModelOrigin, type Model } from "../../../gen/modelservice/v1/model_pb.js";
import { dollars, tokenCount } from "../format.js";
import { followLink, paths } from "../router.js";
import { StatusSwitch } from "./status-switch.js";

export const isCustom = (m: Model) => m.metadata?.origin === ModelOrigin.WORKSPACE;
export const nameOf = (m: Model) => m.metadata?.name || m.metadata?.id || "";

interface Props {
  model: Model;
  selected: boolean;
  onSelect: (selected: boolean) => void;
  onChange: (m: Model) => void;
  onDelete: (m: Model) => void;
  onUndelete: (m: Model) => void;
  onDuplicate: (m: Model) => void;
}

/** One model of the catalog table: a checkbox for bulk actions, its facts, its switch and its actions. */
export function ModelRow({ model: m, selected, onSelect, onChange, onDelete, onUndelete, onDuplicate }: Props) {
  const s = m.spec;
  const name = nameOf(m);
  const deleted = m.metadata?.deleteTime !== undefined;
  const canEdit = m.metadata?.canEdit === true;
  return (
    <tr class={deleted ? "deleted" : undefined}>
      <td class="select" data-label="Select">
        <input type="checkbox" checked={selected} aria-label={`Select ${name}`} onChange={(e) => onSelect(e.currentTarget.checked)} />
      </td>
      <th scope="row" data-label="Name">
        <span class="model-name">{name}</span>
        {isCustom(m) ? <span class="badge">custom</span> : <span class="badge muted">catalog</span>}
        {deleted && <span class="badge warn">deleted</span>}
        {m.metadata?.externalId && <span class="sub">{m.metadata.externalId}</span>}
      </th>
      <td data-label="Provider">{s?.provider ?? "—"}</td>
      <td data-label="Family">{s?.family ?? "—"}</td>
      <td data-label="Status">
        <StatusSwitch model={m} onChange={onChange} />
      </td>
      <td data-label="Input $/Mtok" class="number">
        {dollars(s?.inputPricePerMillionTokensUsd, s?.inputPricePerMillionTokens)}
      </td>
      <td data-label="Output $/Mtok" class="number">
        {dollars(s?.outputPricePerMillionTokensUsd, s?.outputPricePerMillionTokens)}
      </td>
      <td data-label="Context window" class="number">
        {tokenCount(s?.maxInputTokens)}
      </td>
      <td data-label="Actions" class="actions-cell">
        {/* A flex box inside the cell: display:flex on the cell itself would take it out of the row's table layout. */}
        <div class="row-actions">
          <a class="button" href={paths.model(m.metadata?.id ?? "")} onClick={followLink} aria-label={`${canEdit && !deleted ? "Edit" : "View"} ${name}`}>
            {canEdit && !deleted ? "Edit" : "View"}
          </a>
          {deleted ? (
            <button type="button" onClick={() => onUndelete(m)} aria-label={`Undelete ${name}`}>
              Undelete
            </button>
          ) : (
            <>
              <button type="button" onClick={() => onDuplicate(m)} aria-label={`Duplicate ${name}`}>
                Duplicate
              </button>
              {isCustom(m) && (
                <button type="button" class="danger" onClick={() => onDelete(m)} aria-label={`Delete ${name}`}>
                  Delete
                </button>
              )}
            </>
          )}
        </div>
      </td>
    </tr>
  );
}
