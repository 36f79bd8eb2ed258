import { create, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { createContextKey, type ContextValues } from "@connectrpc/connect";

/**
 * A call's answer handed over by the implementation instead of returned, so
 * that whoever writes the call's answer writes it from bytes kept encoded
 * (encoded-answers.ts, encoded-json-answers.ts). A call opens the slot before
 * it runs; the implementation then returns an empty message in its place.
 */
export interface TakenAnswer {
  schema: DescMessage;
  message: object;
}

interface Slot {
  answer?: TakenAnswer;
}

const slotKey = createContextKey<Slot | undefined>(undefined, { description: "answer to send encoded" });

/** When the call opened a slot, takes the answer and returns the empty message to answer in its place; undefined otherwise. */
export function takeAnswer<Desc extends DescMessage>(values: ContextValues, schema: Desc, answer: MessageShape<Desc>): MessageShape<Desc> | undefined {
  const slot = values.get(slotKey);
  if (slot === undefined) return undefined;
  slot.answer = { schema, message: answer };
  return create(schema);
}

/** Opens the call's slot; the returned function reads it once the call has run (undefined when the implementation offered no answer). */
export function openAnswerSlot(values: ContextValues): () => TakenAnswer | undefined {
  const slot: Slot = {};
  values.set(slotKey, slot);
  return () => slot.answer;
}
