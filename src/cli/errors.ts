import { Code, ConnectError } from "@connectrpc/connect";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import { CommanderError } from "commander";

/** Exit codes, one per class of failure. */
export const exitCodes = {
  other: 1,
  usage: 2,
  auth: 3,
  notFound: 4,
  rowsRefused: 5,
} as const;

/** A mistake in the command line itself (bad flag value, unreadable file) or in an operator command's settings: exit 2. */
export class UsageError extends Error {}

/** An import that refused some of its rows (the others were imported): exit 5. */
export class RowsRefusedError extends Error {}

/** Node error codes that mean the server could not be reached at all. */
const unreachable = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "ENETUNREACH", "EHOSTUNREACH", "ECONNRESET", "EPROTO", "ERR_HTTP2_ERROR", "ERR_HTTP2_SESSION_ERROR", "ERR_HTTP2_STREAM_CANCEL", "ERR_SSL_WRONG_VERSION_NUMBER"]);

function nodeCode(error: unknown): string | undefined {
  const seen = new Set<unknown>();
  for (let e = error; e instanceof Error && !seen.has(e); e = (e as { cause?: unknown }).cause) {
    seen.add(e);
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === "string" && unreachable.has(code)) return code;
  }
  return undefined;
}

export function exitCodeOf(error: unknown): number {
  if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : exitCodes.usage;
  if (error instanceof RowsRefusedError) return exitCodes.rowsRefused;
  if (error instanceof UsageError) return exitCodes.usage;
  if (error instanceof ConnectError) {
    switch (error.code) {
      case Code.InvalidArgument:
        return exitCodes.usage;
      case Code.Unauthenticated:
      case Code.PermissionDenied:
        return exitCodes.auth;
      case Code.NotFound:
        return exitCodes.notFound;
      default:
        return exitCodes.other;
    }
  }
  return exitCodes.other;
}

const getToken = "`modelservice token --workspace <id>` in dev mode, else from your token issuer";

/** jose's reasons (as the server words them), said for people. */
const tokenProblems: ReadonlyArray<readonly [RegExp, string]> = [
  [/jwt_expired/, "the token has expired"],
  [/jws_signature_verification_failed/, "the token's signature does not match this service's key (a token of another service or secret)"],
  [/jwt_claim_validation_failed/, "the token is not valid yet, or is for another issuer or audience"],
  [/jose_alg_not_allowed|jose_not_supported/, "the token is signed with an algorithm this service does not accept"],
  [/claim "/, "the token lacks a claim the service needs"],
];

/** What to do about an Unauthenticated answer: no token at all, or which way the token is wrong. */
function authLine(error: ConnectError, apiKeyGiven: boolean): string {
  if (!apiKeyGiven) {
    return `error: unauthenticated: no token given; pass --api-key (or --api-key-file, --api-key-stdin), set MODELSERVICE_API_KEY, or mint one with ${getToken}`;
  }
  const problem = tokenProblems.find(([pattern]) => pattern.test(error.rawMessage))?.[1] ?? "the token is not a valid token of this service";
  return `error: unauthenticated: ${problem} (${oneLine(error.rawMessage)}); get a new one with ${getToken}, and pass it as --api-key or MODELSERVICE_API_KEY`;
}

/**
 * The one stderr line for a failure: `error: not_found: model "model_…" not
 * found`. A server that cannot be reached is named by its URL.
 */
export function errorLine(error: unknown, baseUrl?: string, apiKeyGiven?: boolean): string {
  if (error instanceof ConnectError) {
    if (error.code === Code.Unauthenticated && apiKeyGiven !== undefined) return authLine(error, apiKeyGiven);
    const cause = nodeCode(error);
    if (baseUrl && (cause || (error.code === Code.Unavailable && /fetch|connect|socket|session/i.test(error.rawMessage)))) {
      return `error: unavailable: cannot reach ${baseUrl}${cause ? ` (${cause})` : ""}`;
    }
    if (baseUrl && error.code === Code.DeadlineExceeded) {
      return `error: deadline_exceeded: no answer from ${baseUrl} in time (see --timeout)`;
    }
    return `error: ${codeToString(error.code)}: ${oneLine(error.rawMessage)}`;
  }
  return `error: ${oneLine(error instanceof Error ? error.message : String(error)).replace(/^error: /, "")}`;
}

/** Folds a multi-line message onto one line. */
export function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, " ").trim();
}

/** Writes the error line (and the stack with --debug) and returns the exit code. */
export function report(error: unknown, options: { debug?: boolean; baseUrl?: string; apiKeyGiven?: boolean } = {}): number {
  process.stderr.write(errorLine(error, options.baseUrl, options.apiKeyGiven) + "\n");
  if (options.debug) {
    const stack = error instanceof Error ? error.stack : undefined;
    if (stack) process.stderr.write(stack + "\n");
    if (error instanceof ConnectError) {
      if (error.details.length > 0) process.stderr.write(`details: ${JSON.stringify(error.details, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v instanceof Uint8Array ? Buffer.from(v).toString("base64") : v))}\n`);
      if (error.cause) process.stderr.write(`cause: ${String((error.cause as Error).stack ?? error.cause)}\n`);
    }
  }
  return exitCodeOf(error);
}
