/**
 * Path templates of google.api.http (google/api/http.proto):
 *
 *   Template = "/" Segments [ Verb ] ;
 *   Segments = Segment { "/" Segment } ;
 *   Segment  = "*" | "**" | LITERAL | Variable ;
 *   Variable = "{" FieldPath [ "=" Segments ] "}" ;
 *   Verb     = ":" LITERAL ;
 */

type Part = { kind: "literal"; value: string } | { kind: "*" } | { kind: "**" };

export interface TemplateVariable {
  /** Request field path, in proto names ("workspace_id", "model.name"). */
  fieldPath: string[];
  /** First part the variable covers, and one past its last. */
  start: number;
  end: number;
}

export interface PathTemplate {
  text: string;
  parts: Part[];
  variables: TemplateVariable[];
  verb?: string;
}

export class TemplateError extends Error {}

const identPath = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

function parsePart(text: string, template: string): Part {
  if (text === "*" || text === "**") return { kind: text };
  if (text === "" || /[{}*]/.test(text)) throw new TemplateError(`bad segment "${text}" in "${template}"`);
  return { kind: "literal", value: text };
}

export function parseTemplate(text: string): PathTemplate {
  if (!text.startsWith("/")) throw new TemplateError(`template "${text}" does not start with /`);
  let body = text.slice(1);
  let verb: string | undefined;
  // The verb follows the last "/" and is outside any variable.
  const lastSlash = body.lastIndexOf("/");
  const colon = body.indexOf(":", lastSlash + 1);
  if (colon >= 0 && !body.slice(colon).includes("}")) {
    verb = body.slice(colon + 1);
    body = body.slice(0, colon);
  }
  const parts: Part[] = [];
  const variables: TemplateVariable[] = [];
  let i = 0;
  while (i <= body.length) {
    if (body[i] === "{") {
      const close = body.indexOf("}", i);
      if (close < 0) throw new TemplateError(`unclosed variable in "${text}"`);
      const [path, pattern = "*"] = body.slice(i + 1, close).split("=", 2) as [string, string?];
      if (!identPath.test(path)) throw new TemplateError(`bad field path "${path}" in "${text}"`);
      const start = parts.length;
      for (const p of pattern.split("/")) parts.push(parsePart(p, text));
      variables.push({ fieldPath: path.split("."), start, end: parts.length });
      i = close + 1;
    } else {
      const slash = body.indexOf("/", i);
      const end = slash < 0 ? body.length : slash;
      parts.push(parsePart(body.slice(i, end), text));
      i = end;
    }
    if (i < body.length && body[i] !== "/") throw new TemplateError(`expected / at ${i + 1} in "${text}"`);
    i++;
  }
  const deep = parts.findIndex((p) => p.kind === "**");
  if (deep >= 0 && deep !== parts.length - 1) throw new TemplateError(`"**" must be last in "${text}"`);
  return { text, parts, variables, verb };
}

export type PathBindings = Array<{ fieldPath: string[]; value: string }>;

/** A request path (no query) as the segments matchTemplate takes: split once, matched against every template. */
export function pathSegments(path: string): string[] | undefined {
  return path.startsWith("/") ? path.slice(1).split("/") : undefined;
}

function endsDeep(template: PathTemplate): boolean {
  return template.parts.length > 0 && template.parts[template.parts.length - 1]!.kind === "**";
}

/** Whether the template can match a path of `count` segments (verb included): exactly its parts, or at least those before a final "**". */
export function fitsSegmentCount(template: PathTemplate, count: number): boolean {
  return endsDeep(template) ? count >= template.parts.length - 1 : count === template.parts.length;
}

/**
 * Matches a request path, split by pathSegments, against the template;
 * returns the percent-decoded values of its variables, or undefined when it
 * does not match.
 */
export function matchTemplate(template: PathTemplate, pathSegments: readonly string[]): PathBindings | undefined {
  let segments = pathSegments;
  if (template.verb !== undefined) {
    // A verb never contains "/": it ends the last segment.
    const suffix = ":" + template.verb;
    const last = segments[segments.length - 1]!;
    if (!last.endsWith(suffix)) return undefined;
    segments = [...segments.slice(0, -1), last.slice(0, -suffix.length)];
  }
  const { parts } = template;
  const deep = endsDeep(template);
  if (!fitsSegmentCount(template, segments.length)) return undefined;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    const segment = segments[i];
    if (part.kind === "**") break;
    if (segment === undefined || segment === "") return undefined;
    if (part.kind === "literal" && part.value !== segment) return undefined;
  }
  const bindings: PathBindings = [];
  for (const v of template.variables) {
    const end = v.end === parts.length && deep ? segments.length : v.end;
    const raw = segments.slice(v.start, end);
    let value: string;
    try {
      value = raw.map(decodeURIComponent).join("/");
    } catch {
      return undefined;
    }
    bindings.push({ fieldPath: v.fieldPath, value });
  }
  return bindings;
}
