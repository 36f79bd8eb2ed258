import { create, toBinary, type DescMessage, type MessageShape, type UnknownField } from "@bufbuild/protobuf";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import type { HandlerContext } from "@connectrpc/connect";
import { encodeEnvelope, envelopeCompress, type Compression } from "@connectrpc/connect/protocol";
import { takeAnswer, type TakenAnswer } from "./answer-slot.js";

/**
 * Answers kept already encoded for the binary protocols (gRPC, gRPC-Web,
 * Connect proto). The read cache hands out the same message object until the
 * next commit; here it is kept as a gRPC frame (the encoded message behind
 * its 5-byte envelope prefix), and compressed frames as they are asked for.
 *
 * - A gRPC call run directly (grpc-direct.ts) writes the frame itself.
 * - Through connect, the answer's twin goes out instead: an empty message of
 *   the same type carrying the frame's encoded top-level fields as protobuf
 *   unknown fields, which protobuf-es writes back byte for byte. So connect
 *   still frames, compresses and limits the answer as ever, but a cache hit
 *   no longer serializes it (half the CPU of a 50-model gRPC list in the
 *   profile).
 *
 * Both live exactly as long as their answer (a WeakMap), so they are bounded
 * by the read cache's bytes, which count them (model-reads.ts).
 */
interface Encodings {
  /** gRPC frames by compression: "identity", then "gzip", "br" as asked for. */
  frames: Map<string, Uint8Array>;
  twin?: object;
}

const encodings = new WeakMap<object, Encodings>();

function encodingsOf(answer: TakenAnswer): Encodings {
  let kept = encodings.get(answer.message);
  if (kept === undefined) {
    const bytes = toBinary(answer.schema, answer.message as MessageShape<DescMessage>);
    kept = { frames: new Map([["identity", encodeEnvelope(0, bytes)]]) };
    encodings.set(answer.message, kept);
  }
  return kept;
}

/** True when connect will answer in the protobuf binary format: gRPC, gRPC-Web, or Connect with application/proto. */
function answersInBinary(requestHeader: Headers): boolean {
  const contentType = requestHeader.get("content-type");
  // A Connect GET carries no content type; its encoding is in the query string, so it keeps the plain answer.
  return contentType !== null && !contentType.includes("json");
}

function twinOf<Desc extends DescMessage>(schema: Desc, answer: MessageShape<Desc>): MessageShape<Desc> {
  const kept = encodingsOf({ schema, message: answer });
  if (kept.twin === undefined) {
    const reader = new BinaryReader(kept.frames.get("identity")!.subarray(5));
    const fields: UnknownField[] = [];
    while (reader.pos < reader.len) {
      const [no, wireType] = reader.tag();
      fields.push({ no, wireType, data: reader.skip(wireType, no) });
    }
    const twin = create(schema);
    twin.$unknown = fields;
    kept.twin = twin;
  }
  return kept.twin as MessageShape<Desc>;
}

/**
 * The answer as connect should get it for this call: an empty stand-in when
 * the call's writer takes the answer from its slot (answer-slot.ts), its
 * encoded twin when connect answers in binary, the answer itself otherwise.
 */
export function encodedAnswer<Desc extends DescMessage>(schema: Desc, answer: MessageShape<Desc>, ctx: HandlerContext): MessageShape<Desc> {
  return takeAnswer(ctx.values, schema, answer) ?? (answersInBinary(ctx.requestHeader) ? twinOf(schema, answer) : answer);
}

/** The answer's gRPC frame as connect would write it: compressed (and flagged so) when a compression was negotiated and the message has compressMinBytes or more. */
export async function grpcFrame(answer: TakenAnswer, compression: Compression | null, compressMinBytes: number): Promise<Uint8Array> {
  const { frames } = encodingsOf(answer);
  const plain = frames.get("identity")!;
  if (compression === null || plain.byteLength - 5 < compressMinBytes) return plain;
  let frame = frames.get(compression.name);
  if (frame === undefined) {
    frame = await messageFrame(plain.subarray(5), compression, compressMinBytes);
    frames.set(compression.name, frame);
  }
  return frame;
}

/** A message's gRPC frame as connect's pipeline makes it (envelopeCompress, then the envelope). */
export async function messageFrame(data: Uint8Array, compression: Compression | null, compressMinBytes: number): Promise<Uint8Array> {
  const envelope = await envelopeCompress({ flags: 0, data }, compression, compressMinBytes);
  return encodeEnvelope(envelope.flags, envelope.data);
}
