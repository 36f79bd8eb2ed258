import { pino } from "pino";
import { ConfigError, devWorkspace, loadConfig } from "./config.js";
import { mintToken } from "./domain/auth/token-minter.js";
import { scopes } from "./domain/auth/principal.js";
import { startService } from "./app.js";
import { traceLogFields } from "./telemetry/trace-log-fields.js";
import { startTracing } from "./telemetry/tracing.js";

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = pino({ level: config.logLevel, mixin: traceLogFields });
  const tracing = await startTracing(logger);
  const service = await startService(config, logger, tracing.tracer);
  if (config.devMode && config.tokenKeys.kind === "secret") {
    // Thirty days, or less when MODELSERVICE_JWT_MAX_LIFETIME_SECONDS allows less.
    const ttl = Math.min(30 * 24 * 60 * 60, config.jwtMaxLifetimeSeconds ?? Infinity);
    const token = await mintToken({
      ...devWorkspace,
      secret: config.tokenKeys.secret,
      scope: scopes.join(" "),
      ttl,
      issuer: config.jwtIssuer,
      audience: config.jwtAudience,
    });
    // Printed on purpose, once, in dev mode only: the README's first request uses it.
    process.stdout.write(
      `\nDev mode (no MODELSERVICE_JWT_SECRET): token for workspace ${devWorkspace.workspaceId}, valid until ${new Date(Date.now() + ttl * 1000).toISOString()}:\n\n` +
        `export MODELSERVICE_TOKEN=${token}\n\n`,
    );
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    service
      .close()
      .then(() => tracing.shutdown())
      .then(
        () => process.exit(0),
        (e: unknown) => {
          logger.error({ err: e }, "shutdown failed");
          process.exit(1);
        },
      );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

main().catch((e: unknown) => {
  process.stderr.write(`modelservice: ${e instanceof ConfigError ? e.message : (e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
