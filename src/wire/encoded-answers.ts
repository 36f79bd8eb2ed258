import { create, toBinary, type DescMessage, type MessageShape, type UnknownField } from "@bufbuild/protobuf";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import type { HandlerContext } from "@connectrpc/connect";
import { takeJsonAnswer } from "./encoded-json-answers.js";

/**
 * Answers kept already encoded for the binary protocols (gRPC, gRPC-Web,
 * Connect proto). The read cache hands out the same message object until the
 * next commit; its twin here is an empty message of the same type carrying
 * the answer's encoded top-level fields as protobuf unknown fields, which
 * protobuf-es writes back byte for byte. So connect still frames, compresses
 * and limits the answer as ever, but a cache hit no longer serializes it
 * (half the CPU of a 50-model gRPC list in the profile).
 *
 * A twin lives exactly as long as its answer (a WeakMap), so it is bounded by
 * the read cache's bytes, which count it (model-registry.ts).
 */
const twins = new WeakMap<object, object>();

/** True when connect will answer in the protobuf binary format: gRPC, gRPC-Web, or Connect with application/proto. */
function answersInBinary(requestHeader: Headers): boolean {
  const contentType = requestHeader.get("content-type");
  // A Connect GET carries no content type; its encoding is in the query string, so it keeps the plain answer.
  return contentType !== null && !contentType.includes("json");
}

function encodedTwin<Desc extends DescMessage>(schema: Desc, answer: MessageShape<Desc>): MessageShape<Desc> {
  const bytes = toBinary(schema, answer);
  const reader = new BinaryReader(bytes);
  const fields: UnknownField[] = [];
  while (reader.pos < reader.len) {
    const [no, wireType] = reader.tag();
    fields.push({ no, wireType, data: reader.skip(wireType, no) });
  }
  const twin = create(schema);
  twin.$unknown = fields;
  return twin;
}

/**
 * The answer as connect should get it for this call: its encoded twin when
 * the answer goes out in binary, an empty stand-in when it goes out as unary
 * JSON from its encoded bytes (encoded-json-answers.ts).
 */
export function encodedAnswer<Desc extends DescMessage>(schema: Desc, answer: MessageShape<Desc>, ctx: HandlerContext): MessageShape<Desc> {
  const standIn = takeJsonAnswer(ctx.values, schema, answer);
  if (standIn !== undefined) return standIn;
  if (!answersInBinary(ctx.requestHeader)) return answer;
  let twin = twins.get(answer) as MessageShape<Desc> | undefined;
  if (twin === undefined) {
    twin = encodedTwin(schema, answer);
    twins.set(answer, twin);
  }
  return twin;
}
