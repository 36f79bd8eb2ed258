import { useEffect, useState } from "preact/hooks";
import type { Model } from "../../../gen/modelservice/v1/model_pb.js";
import { listRequest, pageSize, type CatalogFilters } from "../catalog-query.js";
import { useCatalogLocation } from "../catalog-url.js";
import { copyName } from "../copy-name.js";
import { errorLine, errorText } from "../error-text.js";
import { followLink, paths } from "../router.js";
import { modelService } from "../service-client.js";
import { BulkActions } from "./bulk-actions.js";
import { CatalogFilterBar } from "./catalog-filters.js";
import { ModelRow, nameOf } from "./model-row.js";
import { TransferPanel } from "./transfer-panel.js";

interface Page {
  items: Model[];
  total: number;
  nextCursor: string;
}

interface Notice {
  text: string;
  /** The model the notice is about, for its Undo / Edit action. */
  model?: Model;
  action?: "undo-delete" | "edit";
  /** Lines under the text: what failed in a bulk action. */
  details?: string[];
}

/**
 * The workspace's models: search, filters and sort run on the service
 * (ListModels), one page at a time following nextCursor, all of it in the URL.
 */
/** liveVersion moves when another client changed a model (live-models.ts): the page is read again. */
export function CatalogView({ onCatalogChange, liveVersion = 0 }: { onCatalogChange: () => void; liveVersion?: number }) {
  const [place, go] = useCatalogLocation();
  const { filters, page: pageNumber, cursor, trail } = place;
  const [page, setPage] = useState<Page>();
  const [loading, setLoading] = useState(true);
  const [loadError, setLoadError] = useState<string>();
  const [notice, setNotice] = useState<Notice>();
  const [actionError, setActionError] = useState<string>();
  const [reloads, setReloads] = useState(0);
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());

  const applyFilters = (change: Partial<CatalogFilters>, typing = false) =>
    go((now) => ({ filters: { ...now.filters, ...change }, page: 1, cursor: "", trail: [] }), typing);

  const listKey = JSON.stringify([filters, cursor]);
  useEffect(() => {
    const abort = new AbortController();
    setLoading(true);
    modelService.listModels(listRequest(filters, cursor), { signal: abort.signal }).then(
      (r) => {
        setPage({ items: r.items, total: r.pagination?.total ?? r.items.length, nextCursor: r.pagination?.nextCursor ?? "" });
        setSelected((s) => new Set(r.items.map((m) => m.metadata?.id ?? "").filter((id) => s.has(id))));
        setLoadError(undefined);
        setLoading(false);
      },
      (e: unknown) => {
        if (abort.signal.aborted) return;
        setLoadError(errorText(e).message);
        setLoading(false);
      },
    );
    return () => abort.abort();
  }, [listKey, reloads, liveVersion]);

  const changed = () => {
    setReloads((n) => n + 1);
    onCatalogChange();
  };

  const replace = (updated: Model) => {
    setPage((p) => p && { ...p, items: p.items.map((m) => (m.metadata?.id === updated.metadata?.id ? updated : m)) });
    onCatalogChange();
  };

  const act = async (run: () => Promise<Notice>) => {
    setActionError(undefined);
    try {
      setNotice(await run());
      changed();
    } catch (e) {
      setNotice(undefined);
      setActionError(errorLine(e));
    }
  };

  const remove = (m: Model) =>
    act(async () => {
      const deleted = await modelService.deleteModel({ id: m.metadata?.id ?? "" });
      return { text: `Deleted “${nameOf(deleted)}”.`, model: deleted, action: "undo-delete" };
    });
  const undelete = (m: Model) =>
    act(async () => {
      const restored = await modelService.undeleteModel({ id: m.metadata?.id ?? "" });
      return { text: `Restored “${nameOf(restored)}”.`, model: restored, action: "edit" };
    });
  const duplicate = (m: Model) =>
    act(async () => {
      const copy = await modelService.duplicateModel({ id: m.metadata?.id ?? "", name: await copyName(nameOf(m)) });
      return { text: `Created “${nameOf(copy)}”, a copy of “${nameOf(m)}” without its credentials.`, model: copy, action: "edit" };
    });

  const select = (id: string, on: boolean) =>
    setSelected((s) => {
      const next = new Set(s);
      if (on) next.add(id);
      else next.delete(id);
      return next;
    });
  const items = page?.items ?? [];
  const allSelected = items.length > 0 && items.every((m) => selected.has(m.metadata?.id ?? ""));

  const first = (pageNumber - 1) * pageSize;
  const previous = () => go((now) => ({ ...now, page: now.page - 1, cursor: now.trail[now.trail.length - 1] ?? "", trail: now.trail.slice(0, -1) }));
  const next = () => page && go((now) => ({ ...now, page: now.page + 1, cursor: page.nextCursor, trail: [...now.trail, now.cursor] }));
  // A shared link knows the page it shows but not the cursors before it: "Previous" can only start over.
  const trailKnown = trail.length === pageNumber - 1;
  return (
    <section class="panel" aria-labelledby="catalog-title">
      <div class="panel-head">
        <h2 id="catalog-title">Models</h2>
        <a class="button primary" href={paths.newModel} onClick={followLink}>
          New custom model
        </a>
      </div>

      <CatalogFilterBar filters={filters} onChange={applyFilters} version={reloads} />
      <TransferPanel filters={filters} onImported={(text) => act(async () => ({ text }))} />

      <div aria-live="polite">
        {notice && (
          <div class="notice" role="status">
            <p>
              {notice.text}{" "}
              {notice.model && notice.action === "undo-delete" && (
                <button type="button" class="link" onClick={() => notice.model && undelete(notice.model)}>
                  Undo
                </button>
              )}
              {notice.model && notice.action === "edit" && (
                <a href={paths.model(notice.model.metadata?.id ?? "")} onClick={followLink}>
                  Edit it
                </a>
              )}
            </p>
            {notice.details && notice.details.length > 0 && (
              <ul>
                {notice.details.map((d) => (
                  <li key={d}>{d}</li>
                ))}
              </ul>
            )}
          </div>
        )}
      </div>
      {actionError && (
        <p class="alert" role="alert">
          {actionError}
        </p>
      )}
      {loadError && (
        <p class="alert" role="alert">
          Could not load the models. {loadError}
        </p>
      )}

      <BulkActions
        selected={items.filter((m) => selected.has(m.metadata?.id ?? ""))}
        onClear={() => setSelected(new Set())}
        onDone={(text, details) => {
          setNotice({ text, details });
          changed();
        }}
      />

      {page && (
        <>
          <p id="catalog-summary" class="summary" aria-live="polite">
            <span id="model-count">{page.total === 1 ? "1 model" : `${page.total} models`}</span>
            {page.items.length > 0 && ` · showing ${first + 1}–${first + page.items.length}`}
          </p>
          <div class="table-wrap">
            <table class="models" aria-describedby="catalog-summary" aria-busy={loading}>
              <caption class="visually-hidden">Models of the workspace</caption>
              <thead>
                <tr>
                  <th scope="col" class="select">
                    <input
                      type="checkbox"
                      aria-label="Select all models on this page"
                      checked={allSelected}
                      onChange={(e) => setSelected(e.currentTarget.checked ? new Set(items.map((m) => m.metadata?.id ?? "")) : new Set())}
                    />
                  </th>
                  <th scope="col">Name</th>
                  <th scope="col">Provider</th>
                  <th scope="col">Family</th>
                  <th scope="col">Status</th>
                  <th scope="col" class="number">Input $/Mtok</th>
                  <th scope="col" class="number">Output $/Mtok</th>
                  <th scope="col" class="number">Context window</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {page.items.map((m) => (
                  <ModelRow
                    key={m.metadata?.id}
                    model={m}
                    selected={selected.has(m.metadata?.id ?? "")}
                    onSelect={(on) => select(m.metadata?.id ?? "", on)}
                    onChange={replace}
                    onDelete={remove}
                    onUndelete={undelete}
                    onDuplicate={duplicate}
                  />
                ))}
              </tbody>
            </table>
          </div>
          {page.items.length === 0 && <p class="empty">No model matches.</p>}
          <nav class="pager" aria-label="Pages of models">
            {trailKnown || pageNumber === 1 ? (
              <button type="button" disabled={pageNumber === 1 || loading} onClick={previous}>
                Previous page
              </button>
            ) : (
              <button type="button" disabled={loading} onClick={() => applyFilters({})}>
                First page
              </button>
            )}
            <span>Page {pageNumber}</span>
            <button type="button" disabled={page.nextCursor === "" || loading} onClick={next}>
              Next page
            </button>
          </nav>
        </>
      )}
      {!page && loading && <p class="summary">Loading models…</p>}
    </section>
  );
}
