import { useEffect, useState } from "preact/hooks";

/** The console's pages, each with its own URL under /console so it can be bookmarked and reloaded. */
export type Route = { page: "catalog" } | { page: "new" } | { page: "edit"; id: string } | { page: "missing"; path: string };

export const paths = {
  catalog: "/console/",
  newModel: "/console/models/new",
  model: (id: string) => `/console/models/${encodeURIComponent(id)}`,
};

export function parseRoute(pathname: string): Route {
  const path = pathname.replace(/\/+$/, "");
  if (path === "/console") return { page: "catalog" };
  if (path === "/console/models/new") return { page: "new" };
  const model = /^\/console\/models\/([^/]+)$/.exec(path);
  if (model) return { page: "edit", id: decodeURIComponent(model[1]) };
  return { page: "missing", path: pathname };
}

/** Goes to a page of the console; `flash` is a message for the next page to show once (history.state). */
export function navigate(path: string, flash?: string): void {
  history.pushState(flash === undefined ? null : { flash }, "", path);
  dispatchEvent(new PopStateEvent("popstate"));
}

/**
 * Changes the query of this page's URL, with `state` for history.state: a new
 * history entry (Back returns to the current one), or in place (`replace`).
 */
export function setQuery(search: string, state: unknown, replace: boolean): void {
  const url = `${location.pathname}${search === "" ? "" : `?${search}`}`;
  if (replace) history.replaceState(state, "", url);
  else history.pushState(state, "", url);
  dispatchEvent(new PopStateEvent("popstate"));
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.pathname));
  useEffect(() => {
    const update = () => setRoute(parseRoute(location.pathname));
    addEventListener("popstate", update);
    return () => removeEventListener("popstate", update);
  }, []);
  return route;
}

/** The message the previous page left for this one, if any. */
export function flashMessage(): string | undefined {
  const state = history.state as { flash?: unknown } | null;
  return typeof state?.flash === "string" ? state.flash : undefined;
}

/** A click on an in-console link changes the page without a reload; modified clicks (new tab) stay the browser's. */
export function followLink(event: MouseEvent): void {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const anchor = event.currentTarget as HTMLAnchorElement;
  event.preventDefault();
  navigate(anchor.pathname + anchor.search);
}
