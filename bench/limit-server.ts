/**
 * The limit server of the benchmark (a child process): the service's own
 * connect-node stack (one-port server, HTTP/2 streams straight to connect,
 * connect adapter, REST transcoding)
 * answering GetModel and ListModels with prebuilt messages, with no auth,
 * no interceptors and no database. The real service can approach it, never
 * pass it. Env: PORT, MODEL_FILE and LIST_FILE (binary protobuf answers taken
 * from the real service, so both send the same bytes).
 */
import { fromBinary } from "@bufbuild/protobuf";
import type { DescMethod } from "@bufbuild/protobuf";
import type { UniversalHandler } from "@connectrpc/connect/protocol";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { readFileSync } from "node:fs";
import { ModelSchema } from "../gen/modelservice/v1/model_pb.js";
import { ListModelsResponseSchema, ModelService } from "../gen/modelservice/v1/model_service_pb.js";
import { httpBindings } from "../src/wire/rest/http-rules.js";
import { restHandler } from "../src/wire/rest/rest-handler.js";
import { useBufferTextEncoding } from "../src/wire/protobuf-text-encoding.js";
import { http2RpcStreams } from "../src/wire/http2-rpc-streams.js";
import { OnePortServer } from "../src/wire/server.js";

// The service's own protobuf-es setting, so that the limit server serializes as fast.
useBufferTextEncoding();

const model = fromBinary(ModelSchema, readFileSync(process.env.MODEL_FILE!));
const list = fromBinary(ListModelsResponseSchema, readFileSync(process.env.LIST_FILE!));
const handlers = new Map<DescMethod, UniversalHandler>();
const rpc = connectNodeAdapter({
  routes(router) {
    router.service(ModelService, { getModel: () => model, listModels: () => list });
    for (const handler of router.handlers) handlers.set(handler.method, handler);
  },
  jsonOptions: { alwaysEmitImplicit: true },
});
const rest = restHandler({ bindings: httpBindings([ModelService]), handlers, maxBodyBytes: 1 << 20 });
// HTTP/2 calls reach connect as the service's do, past node's compatibility layer.
const server = new OnePortServer(
  (req, res) => {
    if (!rest(req, res)) rpc(req, res);
  },
  {},
  undefined,
  http2RpcStreams(new Map([...handlers.values()].map((h) => [h.requestPath, h]))),
);
const address = await server.listen({ host: "127.0.0.1", port: Number(process.env.PORT) });
process.stdout.write(`listening ${address.port}\n`);
process.once("SIGTERM", () => void server.close(1000).then(() => process.exit(0)));
