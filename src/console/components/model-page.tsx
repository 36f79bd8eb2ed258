import { useEffect, useState } from "preact/hooks";
import { ModelOrigin, type Model } from "../../../gen/modelservice/v1/model_pb.js";
import { errorText } from "../error-text.js";
import { followLink, paths } from "../router.js";
import { modelService } from "../service-client.js";
import { useSession } from "../session.js";
import { BackToModels } from "./back-to-models.js";
import { ModelFacts } from "./model-facts.js";
import { formModeOf, ModelForm } from "./model-form.js";
import { ModelPricing } from "./model-pricing.js";
import { ModelRevisions } from "./model-revisions.js";
import { StatusSwitch } from "./status-switch.js";

const titles = { edit: "Edit", labels: "View", view: "View" } as const;

/**
 * A model's page, for every model the workspace sees: its facts, its status
 * switch, its form (editable as far as the caller may edit it, read-only
 * otherwise) and its history.
 */
export function ModelPage({ id, onSaved, liveVersion = 0 }: { id: string; onSaved: () => void; liveVersion?: number }) {
  const [stored, setStored] = useState<Model>();
  // The etag the form's edits start from: moved by reads and by this page's own writes, not by live changes of others.
  const [baseEtag, setBaseEtag] = useState("");
  const storeOwn = (model: Model) => {
    setStored(model);
    setBaseEtag(model.metadata?.etag ?? "");
  };
  const [loadError, setLoadError] = useState<string>();
  const [loads, setLoads] = useState(0);
  // Bumped by every model read: the form starts again from it (a save updates `stored`, not this).
  const [reads, setReads] = useState(0);
  const { token } = useSession();
  // A load refused for an expired token is tried again once signed in; a loaded model is kept (the form holds edits).
  const retry = stored === undefined ? token : "";

  // Another client changed a model (live-models.ts): read this one again without starting the form over.
  useEffect(() => {
    if (liveVersion === 0) return;
    let current = true;
    modelService.getModel({ id }).then(
      (model) => current && setStored(model),
      () => undefined,
    );
    return () => {
      current = false;
    };
  }, [liveVersion]);

  useEffect(() => {
    let current = true;
    modelService.getModel({ id }).then(
      (model) => {
        if (!current) return;
        storeOwn(model);
        setReads((n) => n + 1);
        setLoadError(undefined);
      },
      (e: unknown) => current && setLoadError(errorText(e).message),
    );
    return () => {
      current = false;
    };
  }, [id, loads, retry]);

  if (loadError && !stored) {
    return (
      <section class="panel">
        <p class="alert" role="alert">
          Could not load the model. {loadError}
        </p>
        <a href={paths.catalog} onClick={followLink}>
          Back to the models
        </a>
      </section>
    );
  }
  if (!stored) return <p class="summary">Loading the model…</p>;

  const mode = formModeOf(stored);
  const deleted = stored.metadata?.deleteTime !== undefined;
  return (
    <>
      <section class="panel" aria-labelledby="form-title">
        <BackToModels />
        <h2 id="form-title">
          {titles[mode]} “{stored.metadata?.name}”
        </h2>
        <div class="model-facts">
          <StatusSwitch
            model={stored}
            onChange={(m) => {
              // The new etag too: a save after the switch must not look like someone else's change.
              storeOwn(m);
              onSaved();
            }}
          />
          {mode === "labels" && <p class="hint">A model of the platform catalog: a workspace can change only its labels and status.</p>}
          {mode === "view" && !deleted && stored.metadata?.origin === ModelOrigin.WORKSPACE && (
            <p class="hint">Your token may read this model but not change it.</p>
          )}
          {deleted && <p class="alert">This model is deleted; undelete it from the list of models (with “Show deleted”) to use it again.</p>}
        </div>
        <ModelFacts model={stored} />
        <ModelPricing model={stored} />
        <ModelForm key={reads} stored={stored} baseEtag={baseEtag} onStored={storeOwn} onSaved={onSaved} onReload={() => setLoads((n) => n + 1)} />
      </section>
      <section class="panel">
        <ModelRevisions id={id} version={stored.metadata?.etag ?? ""} />
      </section>
    </>
  );
}
