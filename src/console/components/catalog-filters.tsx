import { useEffect, useRef, useState } from "preact/hooks";
import { sortOptions, type CatalogFilters } from "../catalog-query.js";
import { modelService } from "../service-client.js";

/** How long the search box waits for typing to pause before it asks the service. */
const searchDelayMs = 250;

interface Props {
  filters: CatalogFilters;
  /** A changed filter; `typing` for the search box, whose every pause should not make a history entry. */
  onChange: (change: Partial<CatalogFilters>, typing?: boolean) => void;
  /** Bumped when the models change, so the provider choices follow. */
  version: number;
}

/** The catalog's search box, provider and status filters, sort order and "Show deleted". */
export function CatalogFilterBar({ filters, onChange, version }: Props) {
  const [searchText, setSearchText] = useState(filters.query);
  const [providers, setProviders] = useState<string[]>([]);

  // The query this box last sent: another one came from Back or Forward, and replaces what is typed.
  const sent = useRef(filters.query);
  useEffect(() => {
    if (filters.query !== sent.current) setSearchText((sent.current = filters.query));
  }, [filters.query]);

  useEffect(() => {
    if (searchText === filters.query) return;
    const timer = setTimeout(() => onChange({ query: (sent.current = searchText) }, true), searchDelayMs);
    return () => clearTimeout(timer);
  }, [searchText]);

  // The provider choices: every provider of the workspace, from ListModels' facets.
  useEffect(() => {
    modelService.listModels({ limit: 1, includeFacets: true }).then(
      (r) => setProviders(r.facets.find((f) => f.field === "spec.provider")?.values.map((v) => v.value).sort() ?? []),
      () => setProviders([]),
    );
  }, [version]);

  // A provider from a shared link is offered even before (or without) the facets listing it.
  const providerChoices = filters.provider === "" || providers.includes(filters.provider) ? providers : [filters.provider, ...providers];
  return (
    <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
      <div class="field grow">
        <label for="search">Search</label>
        <input id="search" type="search" placeholder="name, provider, family, label…" value={searchText} onInput={(e) => setSearchText(e.currentTarget.value)} />
      </div>
      <div class="field">
        <label for="provider">Provider</label>
        <select id="provider" value={filters.provider} onChange={(e) => onChange({ provider: e.currentTarget.value })}>
          <option value="">All providers</option>
          {providerChoices.map((p) => (
            <option key={p} value={p}>
              {p}
            </option>
          ))}
        </select>
      </div>
      <div class="field">
        <label for="status">Status</label>
        <select id="status" value={filters.status} onChange={(e) => onChange({ status: e.currentTarget.value as CatalogFilters["status"] })}>
          <option value="">Any status</option>
          <option value="enabled">Enabled</option>
          <option value="disabled">Disabled</option>
        </select>
      </div>
      <div class="field sort">
        <label for="sort">Sort by</label>
        <select id="sort" value={filters.sort} onChange={(e) => onChange({ sort: e.currentTarget.value })}>
          {sortOptions.map((o) => (
            <option key={o.orderBy} value={o.orderBy}>
              {o.label}
            </option>
          ))}
        </select>
      </div>
      <div class="field checkbox">
        <input id="show-deleted" type="checkbox" checked={filters.showDeleted} onChange={(e) => onChange({ showDeleted: e.currentTarget.checked })} />
        <label for="show-deleted">Show deleted</label>
      </div>
    </form>
  );
}
