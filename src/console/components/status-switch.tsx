import { useState } from "preact/hooks";
import { ModelStatus, type Model } from "../../../gen/modelservice/v1/model_pb.js";
import { errorLine } from "../error-text.js";
import { modelService } from "../service-client.js";

/**
 * A model's enabled/disabled switch: EnableModel or DisableModel, then the
 * state the service answered with, or why it refused.
 */
export function StatusSwitch({ model, onChange }: { model: Model; onChange: (model: Model) => void }) {
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<string>();
  const id = model.metadata?.id ?? "";
  const name = model.metadata?.name ?? id;
  const enabled = model.spec?.status === ModelStatus.ENABLED;
  const deleted = model.metadata?.deleteTime !== undefined;

  const toggle = async () => {
    if (pending) return;
    setPending(true);
    setError(undefined);
    try {
      onChange(enabled ? await modelService.disableModel({ id }) : await modelService.enableModel({ id }));
    } catch (e) {
      setError(`Could not ${enabled ? "disable" : "enable"} ${name}: ${errorLine(e)}`);
    } finally {
      setPending(false);
    }
  };

  return (
    <div class="status-cell">
      <button
        type="button"
        role="switch"
        class={`switch ${enabled ? "on" : "off"}`}
        aria-checked={enabled}
        aria-label={`${name} enabled`}
        aria-busy={pending}
        // Busy, not disabled: a disabled button would drop the keyboard focus mid-toggle.
        aria-disabled={pending}
        disabled={deleted}
        onClick={toggle}
      >
        <span class="switch-track" aria-hidden="true">
          <span class="switch-thumb" />
        </span>
        <span class="switch-text">{enabled ? "Enabled" : "Disabled"}</span>
      </button>
      {error && (
        <p class="field-error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
