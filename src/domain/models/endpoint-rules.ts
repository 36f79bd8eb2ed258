import type { Credentials } from "../../../gen/modelservice/v1/model_pb.js";
import type { FieldViolation } from "../validation/field-violations.js";

const bedrockModelId = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$/;
const loopbackHosts = new Set(["localhost", "127.0.0.1", "[::1]"]);

export function isBedrockUrl(url: string): boolean {
  return url.startsWith("bedrock://");
}

/** Seed 004's endpoints: https://…, http:// only on loopback, or bedrock://<bedrock-model-id>. Its length is the rulebook's. */
export function modelUrlProblem(text: string): string | undefined {
  if (isBedrockUrl(text)) {
    return bedrockModelId.test(text.slice("bedrock://".length)) ? undefined : "must be bedrock://<bedrock-model-id>";
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return "is not a URL";
  }
  if (url.username !== "" || url.password !== "") return "must not carry user info; put secrets in credentials";
  if (url.protocol === "https:") return url.hostname === "" ? "has no host" : undefined;
  if (url.protocol === "http:") return loopbackHosts.has(url.hostname) ? undefined : "must be https:// (http:// only on loopback)";
  return "must be https://… or bedrock://<bedrock-model-id>";
}

/** Credentials are a token, or a client key and a secret key together; their lengths are the rulebook's. */
export function credentialViolations(c: Credentials, path: string): FieldViolation[] {
  const out: FieldViolation[] = [];
  if (c.clientKey !== "" && c.secretKey === "") out.push({ field: `${path}.secretKey`, description: "is required with clientKey" });
  if (c.secretKey !== "" && c.clientKey === "") out.push({ field: `${path}.clientKey`, description: "is required with secretKey" });
  return out;
}
