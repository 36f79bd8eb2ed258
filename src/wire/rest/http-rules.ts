import { getOption, hasOption, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { http } from "../../../gen/google/api/annotations_pb.js";
import type { HttpRule } from "../../../gen/google/api/http_pb.js";
import { parseTemplate, type PathTemplate } from "./path-template.js";

/** One REST route of an RPC: a google.api.http rule or one of its additional bindings. */
export interface HttpBinding {
  method: DescMethod;
  httpMethod: string;
  template: PathTemplate;
  /** "" for no body, "*" for the whole request, else a request field (proto name). */
  body: string;
  /** "" for the whole response, else a response field (proto name). */
  responseBody: string;
}

function binding(method: DescMethod, rule: HttpRule): HttpBinding | undefined {
  const pattern = rule.pattern;
  if (pattern.case === undefined) return undefined;
  const [httpMethod, path] =
    pattern.case === "custom" ? [pattern.value.kind.toUpperCase(), pattern.value.path] : [pattern.case.toUpperCase(), pattern.value];
  return { method, httpMethod, template: parseTemplate(path), body: rule.body, responseBody: rule.responseBody };
}

/** The REST routes of the services, read from their methods' google.api.http options. */
export function httpBindings(services: readonly DescService[]): HttpBinding[] {
  const out: HttpBinding[] = [];
  for (const service of services) {
    for (const method of service.methods) {
      if (!hasOption(method, http)) continue;
      const rule = getOption(method, http);
      for (const r of [rule, ...rule.additionalBindings]) {
        const b = binding(method, r);
        if (b) out.push(b);
      }
    }
  }
  return out;
}
