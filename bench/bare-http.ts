/**
 * The REST reference of the benchmark (a child process): a bare `node:http`
 * server answering every request with the prebuilt Model as JSON, serialized
 * per call (toJson + JSON.stringify) the way a hand-written route would. Env:
 * PORT, MODEL_FILE (the binary Model the real service sends).
 */
import { fromBinary, toJson } from "@bufbuild/protobuf";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { ModelSchema } from "../gen/modelservice/v1/model_pb.js";

const model = fromBinary(ModelSchema, readFileSync(process.env.MODEL_FILE!));
const server = createServer((req, res) => {
  req.resume();
  const body = JSON.stringify(toJson(ModelSchema, model, { alwaysEmitImplicit: true }));
  res.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(body) });
  res.end(body);
});
server.listen(Number(process.env.PORT), "127.0.0.1", () => process.stdout.write(`listening ${process.env.PORT}\n`));
process.once("SIGTERM", () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
