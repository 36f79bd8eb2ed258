import type { HttpBinding } from "./http-rules.js";
import { fitsSegmentCount, matchTemplate, pathSegments, type PathBindings } from "./path-template.js";

export type RouteMatch =
  | { kind: "found"; binding: HttpBinding; path: PathBindings }
  | { kind: "method-not-allowed"; allow: string[] }
  | { kind: "none" };

/** Finds the binding for a request among the REST routes. */
export class RestRouter {
  /** The bindings that can match a path of each segment count up to the longest template's; the last entry serves every longer path. */
  private readonly bySegmentCount: HttpBinding[][] = [];

  constructor(bindings: readonly HttpBinding[]) {
    const longest = Math.max(0, ...bindings.map((b) => b.template.parts.length));
    for (let count = 0; count <= longest + 1; count++) this.bySegmentCount.push(bindings.filter((b) => fitsSegmentCount(b.template, count)));
  }

  match(httpMethod: string, path: string): RouteMatch {
    const segments = pathSegments(path);
    if (!segments) return { kind: "none" };
    const matches: Array<{ binding: HttpBinding; path: PathBindings }> = [];
    for (const binding of this.bySegmentCount[Math.min(segments.length, this.bySegmentCount.length - 1)]!) {
      const vars = matchTemplate(binding.template, segments);
      if (vars) matches.push({ binding, path: vars });
    }
    // "/v1/models/x:enable" also fits "/v1/models/{id}"; a custom verb that
    // matches wins, so a GET there is 405 rather than a lookup of "x:enable".
    const withVerb = matches.filter((m) => m.binding.template.verb !== undefined);
    const candidates = withVerb.length > 0 ? withVerb : matches;
    if (candidates.length === 0) return { kind: "none" };
    const found = candidates.find((m) => m.binding.httpMethod === httpMethod);
    if (found) return { kind: "found", ...found };
    return { kind: "method-not-allowed", allow: [...new Set(candidates.map((m) => m.binding.httpMethod))] };
  }
}
