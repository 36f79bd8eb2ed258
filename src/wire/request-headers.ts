import type { IncomingHttpHeaders } from "node:http";

/** A node request's headers as fetch Headers, as connect-node's adapter makes them, without HTTP/2's pseudo-headers (":path" …). */
export function fetchHeaders(headers: IncomingHttpHeaders): Headers {
  const header = new Headers();
  for (const name in headers) {
    if (name.charCodeAt(0) === 0x3a) continue;
    const value = headers[name];
    if (typeof value === "string") header.append(name, value);
    else if (value !== undefined) for (const v of value) header.append(name, v);
  }
  return header;
}
