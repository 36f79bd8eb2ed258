import { Code, ConnectError } from "@connectrpc/connect";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import { CommanderError } from "commander";
import { ConfigError } from "../config.js";
import { CredentialKeyError } from "../domain/credentials/credential-sealer.js";

/** Exit codes, one per class of failure. */
export const exitCodes = {
  other: 1,
  usage: 2,
  auth: 3,
  notFound: 4,
} as const;

/** A mistake in the command line itself (bad flag value, unreadable file): exit 2. */
export class UsageError extends Error {}

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
  if (error instanceof UsageError || error instanceof ConfigError || error instanceof CredentialKeyError) return exitCodes.usage;
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

/**
 * The one stderr line for a failure: `error: not_found: model "model_…" not
 * found`. A server that cannot be reached is named by its URL.
 */
export function errorLine(error: unknown, baseUrl?: string): string {
  if (error instanceof ConnectError) {
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
export function report(error: unknown, options: { debug?: boolean; baseUrl?: string } = {}): number {
  process.stderr.write(errorLine(error, options.baseUrl) + "\n");
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
