import { useEffect, useState } from "preact/hooks";
import { ModelOrigin, type Model } from "../../../gen/modelservice/v1/model_pb.js";
import { listRequest, noFilters, pageSize, sortOptions, type CatalogFilters } from "../catalog-query.js";
import { errorLine, errorText } from "../error-text.js";
import { dollars, tokenCount } from "../format.js";
import { followLink, paths } from "../router.js";
import { modelService } from "../service-client.js";
import { StatusSwitch } from "./status-switch.js";

interface Page {
  items: Model[];
  total: number;
  nextCursor: string;
}

interface Notice {
  text: string;
  /** The model the notice is about, for its Undo / Edit action. */
  model: Model;
  action: "undo-delete" | "edit";
}

/** How long the search box waits for typing to pause before it asks the service. */
const searchDelayMs = 250;

const isCustom = (m: Model) => m.metadata?.origin === ModelOrigin.WORKSPACE;
const nameOf = (m: Model) => m.metadata?.name || m.metadata?.id || "";

/**
 * The workspace's models: search, filters and sort run on the service
 * (ListModels), one page at a time following nextCursor.
 */
/** liveVersion moves when another client changed a model (live-models.ts): the page is read again. */
export function CatalogView({ onCatalogChange, liveVersion = 0 }: { onCatalogChange: () => void; liveVersion?: number }) {
  const [filters, setFilters] = useState<CatalogFilters>(noFilters);
  const [searchText, setSearchText] = useState("");
  // The cursor of every page visited so far: the last one is the page shown, the others make "Previous" work.
  const [cursors, setCursors] = useState<string[]>([""]);
  const [page, setPage] = useState<Page>();
  const [loading, setLoading] = useState(true);
  const [loadError, setLoadError] = useState<string>();
  const [providers, setProviders] = useState<string[]>([]);
  const [notice, setNotice] = useState<Notice>();
  const [actionError, setActionError] = useState<string>();
  const [reloads, setReloads] = useState(0);

  const applyFilters = (change: Partial<CatalogFilters>) => {
    setFilters((f) => ({ ...f, ...change }));
    setCursors([""]);
  };

  useEffect(() => {
    if (searchText === filters.query) return;
    const timer = setTimeout(() => applyFilters({ query: searchText }), searchDelayMs);
    return () => clearTimeout(timer);
  }, [searchText]);

  // The provider choices: every provider of the workspace, from ListModels' facets.
  useEffect(() => {
    modelService.listModels({ limit: 1, includeFacets: true }).then(
      (r) => setProviders(r.facets.find((f) => f.field === "spec.provider")?.values.map((v) => v.value).sort() ?? []),
      () => setProviders([]),
    );
  }, [reloads]);

  useEffect(() => {
    const abort = new AbortController();
    setLoading(true);
    modelService.listModels(listRequest(filters, cursors[cursors.length - 1]), { signal: abort.signal }).then(
      (r) => {
        setPage({ items: r.items, total: r.pagination?.total ?? r.items.length, nextCursor: r.pagination?.nextCursor ?? "" });
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
  }, [filters, cursors, reloads, liveVersion]);

  const replace = (updated: Model) => {
    setPage((p) => p && { ...p, items: p.items.map((m) => (m.metadata?.id === updated.metadata?.id ? updated : m)) });
    onCatalogChange();
  };

  const act = async (run: () => Promise<Notice | undefined>) => {
    setActionError(undefined);
    try {
      setNotice(await run());
      setReloads((n) => n + 1);
      onCatalogChange();
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
      const copy = await modelService.duplicateModel({ id: m.metadata?.id ?? "" });
      return { text: `Created “${nameOf(copy)}”, a copy of “${nameOf(m)}” without its credentials.`, model: copy, action: "edit" };
    });

  const first = (cursors.length - 1) * pageSize;
  return (
    <section class="panel" aria-labelledby="catalog-title">
      <div class="panel-head">
        <h2 id="catalog-title">Models</h2>
        <a class="button primary" href={paths.newModel} onClick={followLink}>
          New custom model
        </a>
      </div>

      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <div class="field grow">
          <label for="search">Search</label>
          <input id="search" type="search" placeholder="name, provider, family, label…" value={searchText} onInput={(e) => setSearchText(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="provider">Provider</label>
          <select id="provider" value={filters.provider} onChange={(e) => applyFilters({ provider: e.currentTarget.value })}>
            <option value="">All providers</option>
            {providers.map((p) => (
              <option key={p} value={p}>
                {p}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="status">Status</label>
          <select id="status" value={filters.status} onChange={(e) => applyFilters({ status: e.currentTarget.value as CatalogFilters["status"] })}>
            <option value="">Any status</option>
            <option value="enabled">Enabled</option>
            <option value="disabled">Disabled</option>
          </select>
        </div>
        <div class="field">
          <label for="sort">Sort by</label>
          <select id="sort" value={filters.sort} onChange={(e) => applyFilters({ sort: e.currentTarget.value })}>
            {sortOptions.map((o) => (
              <option key={o.orderBy} value={o.orderBy}>
                {o.label}
              </option>
            ))}
          </select>
        </div>
        <div class="field checkbox">
          <input id="show-deleted" type="checkbox" checked={filters.showDeleted} onChange={(e) => applyFilters({ showDeleted: e.currentTarget.checked })} />
          <label for="show-deleted">Show deleted</label>
        </div>
      </form>

      <div aria-live="polite">
        {notice && (
          <p class="notice" role="status">
            {notice.text}{" "}
            {notice.action === "undo-delete" ? (
              <button type="button" class="link" onClick={() => undelete(notice.model)}>
                Undo
              </button>
            ) : (
              <a href={paths.model(notice.model.metadata?.id ?? "")} onClick={followLink}>
                Edit it
              </a>
            )}
          </p>
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
                  <ModelRow key={m.metadata?.id} model={m} onChange={replace} onDelete={remove} onUndelete={undelete} onDuplicate={duplicate} />
                ))}
              </tbody>
            </table>
          </div>
          {page.items.length === 0 && <p class="empty">No model matches.</p>}
          <nav class="pager" aria-label="Pages of models">
            <button type="button" disabled={cursors.length === 1 || loading} onClick={() => setCursors((c) => c.slice(0, -1))}>
              Previous page
            </button>
            <span>Page {cursors.length}</span>
            <button type="button" disabled={page.nextCursor === "" || loading} onClick={() => setCursors((c) => [...c, page.nextCursor])}>
              Next page
            </button>
          </nav>
        </>
      )}
      {!page && loading && <p class="summary">Loading models…</p>}
    </section>
  );
}

interface RowProps {
  model: Model;
  onChange: (m: Model) => void;
  onDelete: (m: Model) => void;
  onUndelete: (m: Model) => void;
  onDuplicate: (m: Model) => void;
}

function ModelRow({ model: m, onChange, onDelete, onUndelete, onDuplicate }: RowProps) {
  const s = m.spec;
  const name = nameOf(m);
  const deleted = m.metadata?.deleteTime !== undefined;
  return (
    <tr class={deleted ? "deleted" : undefined}>
      <th scope="row" data-label="Name">
        <span class="model-name">{name}</span>
        {isCustom(m) && <span class="badge">custom</span>}
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
      <td data-label="Actions" class="row-actions">
        {deleted ? (
          <button type="button" onClick={() => onUndelete(m)} aria-label={`Undelete ${name}`}>
            Undelete
          </button>
        ) : (
          <>
            {isCustom(m) && (
              <a class="button" href={paths.model(m.metadata?.id ?? "")} onClick={followLink} aria-label={`Edit ${name}`}>
                Edit
              </a>
            )}
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
      </td>
    </tr>
  );
}
