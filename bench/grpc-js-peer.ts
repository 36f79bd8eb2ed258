/**
 * The peer of the benchmark (a child process): @grpc/grpc-js, the reference
 * gRPC server for Node, answering GetModel with a prebuilt message, loaded the
 * usual way (@grpc/proto-loader over our .proto files). Env: PORT, MODEL_FILE
 * (the binary Model the real service sends).
 */
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { readFileSync } from "node:fs";

const definition = protoLoader.loadSync("modelservice/v1/model_service.proto", {
  includeDirs: ["proto", "node_modules/google-proto-files"],
  longs: String,
  enums: String,
  oneofs: true,
});
type Loaded = { modelservice: { v1: { ModelService: grpc.ServiceClientConstructor } } };
const loaded = grpc.loadPackageDefinition(definition) as unknown as Loaded;
// Decoded once with protobufjs, re-encoded per call by grpc-js like any handler's answer.
const serializer = loaded.modelservice.v1.ModelService.service.GetModel!;
const model = serializer.responseDeserialize(readFileSync(process.env.MODEL_FILE!));

const server = new grpc.Server();
server.addService(loaded.modelservice.v1.ModelService.service, {
  GetModel: (_call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => callback(null, model),
});
server.bindAsync(`127.0.0.1:${process.env.PORT}`, grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  process.stdout.write(`listening ${port}\n`);
});
process.once("SIGTERM", () => server.tryShutdown(() => process.exit(0)));
