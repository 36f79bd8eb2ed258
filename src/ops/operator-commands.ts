import { Command, InvalidArgumentError, Option } from "commander";
import { UsageError } from "../cli/errors.js";
import { scopes } from "../domain/auth/principal.js";

/*
 * Commands that act on the service's own settings and database rather than
 * over the network: they read the same environment as `npm start` (README
 * "Settings"). The server's modules (src/server-api.ts) load only when one of
 * them runs, so that the client commands start quickly.
 */

const serverApi = () => import("../server-api.js");

/** Runs an operator command's work; a mistake in the settings is the operator's to fix: a usage error (exit 2). */
function operatorAction<A extends unknown[]>(work: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args) => {
    const { isSettingsError } = await serverApi();
    try {
      await work(...args);
    } catch (e) {
      throw isSettingsError(e) ? new UsageError(e.message) : e;
    }
  };
}

function scopeList(text: string): string {
  const list = text.split(/\s+/).filter((s) => s !== "");
  const unknown = list.filter((s) => !(scopes as readonly string[]).includes(s));
  if (list.length === 0 || unknown.length > 0) {
    throw new InvalidArgumentError(`scopes are ${scopes.join(", ")}; got "${text}"`);
  }
  return list.join(" ");
}

/** A lifetime as jose reads it ("90s", "1h", "30d", "2 weeks"), positive and forward only. */
const ttlText = /^(\d+|\d+\.\d+) ?(seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|w|years?|yrs?|y)$/i;

function ttl(text: string): string {
  const m = ttlText.exec(text.trim());
  if (!m || Number(m[1]) <= 0) throw new InvalidArgumentError('expected a lifetime such as "30m", "1h", "30d" or "2 weeks"');
  return text.trim();
}

/** `token`: mints a bearer token signed with the configured HS256 secret. */
export function tokenCommand(name = "token"): Command {
  return new Command(name)
    .description("Mint a bearer token signed with the configured HS256 secret (dev mode: the secret under ./data/)")
    .requiredOption("--workspace <id>", "workspace_id claim")
    .option("--account <id>", "account_id claim", "acct_dev")
    .option("--profile <id>", "sub claim: the caller's profile id", "profile_dev")
    .addOption(new Option("--scope <scopes>", "space-separated scopes").argParser(scopeList).default(scopes.join(" ")))
    .addOption(new Option("--ttl <duration>", 'lifetime, e.g. "1h", "30d"').argParser(ttl).default("1h"))
    .action(
      operatorAction(async (o: { workspace: string; account: string; profile: string; scope: string; ttl: string }) => {
        const { mintOperatorToken } = await serverApi();
        const token = await mintOperatorToken({ workspaceId: o.workspace, accountId: o.account, profileId: o.profile, scope: o.scope, ttl: o.ttl });
        process.stdout.write(token + "\n");
      }),
    );
}

/** `rotate-keys`: re-seals every credential under the current key; exits 1 if any model or key could not be opened. */
export function rotateKeysCommand(name = "rotate-keys"): Command {
  return new Command(name)
    .description("Re-encrypt every model's credentials under MODELSERVICE_ENCRYPTION_KEY (old keys from MODELSERVICE_ENCRYPTION_KEYS_OLD)")
    .action(
      operatorAction(async () => {
        const { rotateKeys } = await serverApi();
        const r = await rotateKeys();
        process.stdout.write(`re-sealed ${r.resealed}, already under key ${r.currentKeyId}: ${r.current}, failed: ${r.failed.length}\n`);
        for (const message of [...r.failed, ...r.keysFailed]) process.stderr.write(`error: ${message}\n`);
        process.exitCode = r.failed.length + r.keysFailed.length > 0 ? 1 : 0;
      }),
    );
}

/** `migrate`: opens the database, which applies the pending migrations, and exits. */
export function migrateCommand(): Command {
  return new Command("migrate")
    .description("Apply the pending database migrations (MODELSERVICE_DB / MODELSERVICE_DATA_DIR) and exit")
    .action(
      operatorAction(async () => {
        const { migrateDatabase } = await serverApi();
        const { path, schemaVersion } = await migrateDatabase();
        process.stdout.write(`database ${path} is at schema version ${schemaVersion}\n`);
      }),
    );
}

/** `serve`: runs the service exactly as `npm start` does (src/main.ts), with optional overrides of its settings. */
export function serveCommand(): Command {
  return new Command("serve")
    .description("Run the service (same as `npm start`); settings from the environment (README \"Settings\")")
    .option("--port <port>", "PORT: the one port for every protocol")
    .option("--host <host>", "HOST: listen address")
    .option("--data-dir <dir>", "MODELSERVICE_DATA_DIR: where the database and the dev secret live")
    .action(async (o: { port?: string; host?: string; dataDir?: string }) => {
      if (o.port !== undefined) process.env.PORT = o.port;
      if (o.host !== undefined) process.env.HOST = o.host;
      if (o.dataDir !== undefined) process.env.MODELSERVICE_DATA_DIR = o.dataDir;
      // The service owns the process from then on (signals, exit), as under `npm start`.
      const { serve } = await serverApi();
      await serve();
    });
}

/** `migrate-store`: copies a SQLite database into a new PostgreSQL one as it is, verified by counts and checksums. */
export function migrateStoreCommand(): Command {
  return new Command("migrate-store")
    .description("Copy a SQLite database into a new PostgreSQL database as it is (ids, etags, revisions, sealed credentials, drafts, request ids, the change log), verified by counts and checksums")
    .requiredOption("--from <path>", "the SQLite database file (stop the service first)")
    .requiredOption("--to <url>", "postgres://user:pass@host:5432/db, an empty database")
    .option("--dry-run", "read the source and report what would be copied; write nothing")
    .action(
      operatorAction(async (o: { from: string; to: string; dryRun?: boolean }) => {
        const { migrateStore } = await serverApi();
        const r = await migrateStore(o.from, o.to, o.dryRun === true);
        const { changeLogHead, ...tables } = r.summary;
        process.stdout.write(`${r.copied ? "copied" : "would copy"} ${o.from} to ${r.target}:\n`);
        for (const [table, t] of Object.entries(tables)) process.stdout.write(`  ${table}: ${t.rows} rows, sha256 ${t.checksum}\n`);
        process.stdout.write(`  change log position: ${changeLogHead}\n`);
      }),
    );
}

/** `ops`: every operator command under one group (`modelservice ops migrate-store …`), each made by the same function as at the top level. */
function opsCommand(): Command {
  const ops = new Command("ops").description("Operator commands on the service's settings and database: serve, token, migrate, migrate-store, rotate-keys");
  for (const command of [serveCommand(), tokenCommand(), migrateCommand(), migrateStoreCommand(), rotateKeysCommand()]) ops.addCommand(command);
  return ops;
}

/** The operator commands in the order `modelservice --help` lists them: the everyday ones at the top level too. */
export function operatorCommands(): Command[] {
  return [serveCommand(), tokenCommand(), migrateCommand(), rotateKeysCommand(), opsCommand()];
}
