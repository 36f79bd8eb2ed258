import { useEffect, useState } from "preact/hooks";
import { noFilters, sortOptions, type CatalogFilters } from "./catalog-query.js";
import { setQuery } from "./router.js";

/**
 * The catalog's search, filters, sort and page, kept in the URL
 * (?q=claude&provider=openai&status=enabled&sort=-input&deleted=1&page=2&cursor=…)
 * so that reload, Back and a shared link show the same list. The cursors of
 * the pages before the shown one live in history.state: they make "Previous"
 * work after a reload; a shared link has none, and goes back to the first page.
 */
export interface CatalogLocation {
  filters: CatalogFilters;
  /** 1 for the first page. */
  page: number;
  /** The cursor of the page shown ("" for the first). */
  cursor: string;
  /** The cursors of the pages before it, when known. */
  trail: string[];
}

function parse(search: string, state: unknown): CatalogLocation {
  const q = new URLSearchParams(search);
  const status = q.get("status");
  const sort = sortOptions.find((o) => o.key === q.get("sort"));
  const page = Number(q.get("page") ?? "1");
  const cursor = q.get("cursor") ?? "";
  const trail = (state as { trail?: unknown } | null)?.trail;
  return {
    filters: {
      query: q.get("q") ?? "",
      provider: q.get("provider") ?? "",
      status: status === "enabled" || status === "disabled" ? status : "",
      sort: sort?.orderBy ?? noFilters.sort,
      showDeleted: q.get("deleted") === "1",
    },
    page: cursor !== "" && Number.isInteger(page) && page > 1 ? page : 1,
    cursor,
    trail: Array.isArray(trail) && trail.every((c) => typeof c === "string") ? trail : [],
  };
}

function format(l: CatalogLocation): string {
  const q = new URLSearchParams();
  const f = l.filters;
  if (f.query !== "") q.set("q", f.query);
  if (f.provider !== "") q.set("provider", f.provider);
  if (f.status !== "") q.set("status", f.status);
  const sort = sortOptions.find((o) => o.orderBy === f.sort);
  if (sort && sort.key !== "") q.set("sort", sort.key);
  if (f.showDeleted) q.set("deleted", "1");
  if (l.cursor !== "") {
    q.set("page", String(l.page));
    q.set("cursor", l.cursor);
  }
  return q.toString();
}

const current = () => parse(location.search, history.state);

type Move = (next: (now: CatalogLocation) => CatalogLocation, typing?: boolean) => void;

/**
 * The catalog's place as the URL says, and a way to move it from where the URL
 * is at that moment (a search typed before a filter was picked must not undo
 * the filter); `typing` for the search box, whose pauses should not each make a history entry.
 */
export function useCatalogLocation(): [CatalogLocation, Move] {
  const [place, setPlace] = useState(current);
  useEffect(() => {
    const update = () => setPlace(current());
    addEventListener("popstate", update);
    return () => removeEventListener("popstate", update);
  }, []);
  const go: Move = (move, typing = false) => {
    const next = move(current());
    // A search being typed makes one history entry, replaced while the typing goes on: Back returns to before it.
    const typed = (history.state as { typed?: unknown } | null)?.typed === true;
    setQuery(format(next), { trail: next.trail, typed: typing }, typing && typed);
  };
  return [place, go];
}
