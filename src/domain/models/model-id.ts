import { monotonicFactory } from "ulid";

const prefix = "model_";
const modelIdPattern = /^model_[0-9A-HJKMNP-TV-Z]{26}$/;
const nextUlid = monotonicFactory();

/** A new model id: "model_" and a ULID, increasing within this process. */
export function newModelId(): string {
  return prefix + nextUlid();
}

export function isModelId(text: string): boolean {
  return modelIdPattern.test(text);
}
