import * as net from "node:net";
import * as tls from "node:tls";
import type { Duplex } from "node:stream";
import type { Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { UsageError } from "./errors.js";

export const protocols = ["connect", "grpc", "grpc-web"] as const;
export type Protocol = (typeof protocols)[number];

/** "30s", "500ms", "2m", "1h" or a bare number of seconds, in milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new UsageError(`invalid duration "${text}": use e.g. 500ms, 30s, 2m`);
  const n = Number(m[1]);
  const unit = m[2] ?? "s";
  return Math.round(n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit]!);
}

/** The base URL, checked: http:// or https://, nothing after the path. */
export function parseBaseUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`invalid --base-url "${text}": expected an http:// or https:// URL such as http://localhost:8080`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new UsageError(`invalid --base-url "${text}": expected an http:// or https:// URL such as http://localhost:8080`);
  }
  if (url.search || url.hash) throw new UsageError(`invalid --base-url "${text}": no query or fragment allowed`);
  return url;
}

/**
 * A socket factory that gives up after connectTimeoutMs, so an unroutable
 * host fails fast (ETIMEDOUT, reported as "cannot reach") instead of waiting
 * for the call deadline.
 */
function connector(url: URL, connectTimeoutMs: number, alpn: string): () => Duplex {
  return () => {
    const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
    const secure = url.protocol === "https:";
    const port = Number(url.port || (secure ? 443 : 80));
    const socket: net.Socket = secure
      ? tls.connect({ host, port, servername: net.isIP(host) ? undefined : host, ALPNProtocols: [alpn] })
      : net.connect({ host, port });
    const timer = setTimeout(() => {
      const e = new Error(`connect ETIMEDOUT ${host}:${port} (no connection after ${connectTimeoutMs} ms)`) as NodeJS.ErrnoException;
      e.code = "ETIMEDOUT";
      socket.destroy(e);
    }, connectTimeoutMs);
    const done = () => clearTimeout(timer);
    socket.once(secure ? "secureConnect" : "connect", done);
    socket.once("close", done);
    return socket;
  };
}

export interface ClientOptions {
  baseUrl: URL;
  protocol: Protocol;
  connectTimeoutMs: number;
  timeoutMs: number;
}

/** A connect-node transport for the protocol: Connect and gRPC-Web over HTTP/1.1, gRPC over HTTP/2. */
export function createTransport(o: ClientOptions): Transport {
  const baseUrl = o.baseUrl.href.replace(/\/$/, "");
  const h1 = { httpVersion: "1.1" as const, nodeOptions: { createConnection: connector(o.baseUrl, o.connectTimeoutMs, "http/1.1") } };
  const common = { baseUrl, defaultTimeoutMs: o.timeoutMs };
  switch (o.protocol) {
    case "connect":
      return createConnectTransport({ ...common, ...h1 });
    case "grpc-web":
      return createGrpcWebTransport({ ...common, ...h1 });
    case "grpc":
      return createGrpcTransport({
        ...common,
        nodeOptions: { createConnection: connector(o.baseUrl, o.connectTimeoutMs, "h2") },
      });
  }
}
