import { CredentialsSchema } from "../../../gen/modelservice/v1/model_pb.js";

const credentialFields = CredentialsSchema.fields.map((f) => f.jsonName).join(", ");

/**
 * protobuf-es names the message or field it could not decode from JSON and
 * then quotes the value it got ("… Credentials from JSON: \"sk-…\"",
 * "… Credentials.token from JSON: expected string, got 1234"). For
 * Credentials that value is a secret: everything after the name goes.
 */
const credentialsDecodeError = new RegExp(
  `(cannot decode (message|field) ${CredentialsSchema.typeName.replaceAll(".", "\\.")}(?:\\.\\w+)?) from JSON.*`,
  "s",
);

/** V8's JSON.parse errors quote the text around the fault ("Unexpected token 's', …\"{\"token\": sk-…\"… is not valid JSON"). */
const jsonSyntaxSnippet = /Unexpected token .*? is not valid JSON/s;

/**
 * The message of an error without any value sent in a credentials field, nor
 * the request text a JSON syntax error quotes: the one place every protocol's
 * errors pass through before they reach the client (parse-error-status for
 * Connect, gRPC and gRPC-Web; the REST transcoder's field violations).
 */
export function withoutSecrets(message: string): string {
  return message
    .replace(credentialsDecodeError, (_, what: string, kind: string) =>
      kind === "field"
        ? `${what} from JSON: must be a string (credentials values are never shown)`
        : `${what} from JSON: must be an object with the fields ${credentialFields} (credentials values are never shown)`,
    )
    .replace(jsonSyntaxSnippet, "unexpected character: not valid JSON (the request text is not shown)");
}
