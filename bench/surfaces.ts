import { create, toBinary } from "@bufbuild/protobuf";
import { GetModelRequestSchema, ListModelsRequestSchema } from "../gen/modelservice/v1/model_service_pb.js";
import { grpcFrame, type LoadSpec } from "./h2load.js";

export type Protocol = "gRPC (h2c)" | "Connect JSON (HTTP/1.1)" | "REST (HTTP/1.1)";
export type Call = "GetModel" | "ListModels(50)";
export const protocols: Protocol[] = ["gRPC (h2c)", "Connect JSON (HTTP/1.1)", "REST (HTTP/1.1)"];
export const calls: Call[] = ["GetModel", "ListModels(50)"];

const procedure = "/modelservice.v1.ModelService";

/** How each protocol is loaded: HTTP/1.1 with 16 keep-alive connections; HTTP/2 with 4 connections of 8 streams, as gRPC clients multiplex. */
export function loadSpec(url: string, token: string, modelId: string, protocol: Protocol, call: Call, seconds: number): LoadSpec {
  const auth = { authorization: `Bearer ${token}` };
  const get = call === "GetModel";
  switch (protocol) {
    case "gRPC (h2c)": {
      const message = get
        ? toBinary(GetModelRequestSchema, create(GetModelRequestSchema, { id: modelId }))
        : toBinary(ListModelsRequestSchema, create(ListModelsRequestSchema, { limit: 50 }));
      return {
        url: `${url}${procedure}/${get ? "GetModel" : "ListModels"}`,
        h1: false,
        headers: { ...auth, "content-type": "application/grpc", te: "trailers" },
        body: grpcFrame(message),
        seconds,
        connections: 4,
        streams: 8,
      };
    }
    case "Connect JSON (HTTP/1.1)":
      return {
        url: `${url}${procedure}/${get ? "GetModel" : "ListModels"}`,
        h1: true,
        headers: { ...auth, "content-type": "application/json" },
        body: new TextEncoder().encode(JSON.stringify(get ? { id: modelId } : { limit: 50 })),
        seconds,
        connections: 16,
      };
    case "REST (HTTP/1.1)":
      return { url: get ? `${url}/v1/models/${modelId}` : `${url}/v1/models?limit=50`, h1: true, headers: auth, seconds, connections: 16 };
  }
}
