import { createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { ModelService } from "../../gen/modelservice/v1/model_service_pb.js";
import { errorDetailTypes } from "../../src/proto/error-detail-types.js";

export type ModelClient = Client<typeof ModelService>;

export interface NamedTransport {
  name: string;
  transport: Transport;
}

function bearer(token: string): Interceptor {
  return (next) => (req) => {
    req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
}

/** One connect-node transport per protocol and encoding the service speaks. */
export function transports(baseUrl: string, token?: string): NamedTransport[] {
  const interceptors = token ? [bearer(token)] : [];
  // Statuses inside batch results carry details as Any: JSON needs their types known.
  const jsonOptions = { registry: errorDetailTypes };
  return [
    { name: "connect+json", transport: createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false, jsonOptions, interceptors }) },
    { name: "connect+proto", transport: createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true, interceptors }) },
    { name: "connect+json GET", transport: createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false, jsonOptions, useHttpGet: true, interceptors }) },
    { name: "connect+json h2c", transport: createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: false, jsonOptions, interceptors }) },
    { name: "grpc", transport: createGrpcTransport({ baseUrl, interceptors }) },
    { name: "grpc-web", transport: createGrpcWebTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true, interceptors }) },
    { name: "grpc-web h2c", transport: createGrpcWebTransport({ baseUrl, httpVersion: "2", interceptors }) },
  ];
}

export function modelClient(baseUrl: string, token?: string, protocol = "connect+json"): ModelClient {
  const t = transports(baseUrl, token).find((x) => x.name === protocol);
  if (!t) throw new Error(`no transport ${protocol}`);
  return createClient(ModelService, t.transport);
}

/** A modelClient per protocol and token, made once and reused, so that tests making many calls reuse their connections. */
export function clientCache(baseUrl: () => string): (protocol: string, token: string) => ModelClient {
  const clients = new Map<string, ModelClient>();
  return (protocol, token) => {
    const key = `${protocol} ${token}`;
    let client = clients.get(key);
    if (!client) clients.set(key, (client = modelClient(baseUrl(), token, protocol)));
    return client;
  };
}
