import { Command, InvalidArgumentError } from "commander";
import { ConfigError, loadConfig } from "../config.js";
import { scopes } from "../domain/auth/principal.js";
import { mintToken } from "../domain/auth/token-minter.js";

function scopeList(text: string): string {
  const list = text.split(/\s+/).filter((s) => s !== "");
  const unknown = list.filter((s) => !(scopes as readonly string[]).includes(s));
  if (list.length === 0 || unknown.length > 0) {
    throw new InvalidArgumentError(`scopes are ${scopes.join(", ")}; got "${text}"`);
  }
  return list.join(" ");
}

const program = new Command("token")
  .description("Mint a bearer token signed with the configured HS256 secret (dev mode: the secret under ./data/)")
  .requiredOption("--workspace <id>", "workspace_id claim")
  .option("--account <id>", "account_id claim", "acct_dev")
  .option("--profile <id>", "sub claim: the caller's profile id", "profile_dev")
  .option("--scope <scopes>", "space-separated scopes", scopeList, scopes.join(" "))
  .option("--ttl <duration>", 'lifetime, e.g. "1h", "30d"', "1h")
  .action(async (o: { workspace: string; account: string; profile: string; scope: string; ttl: string }) => {
    const config = loadConfig();
    if (config.tokenKeys.kind !== "secret") {
      throw new ConfigError("MODELSERVICE_JWKS_FILE is set: tokens are minted by the key holder, not here");
    }
    const token = await mintToken({
      secret: config.tokenKeys.secret,
      workspaceId: o.workspace,
      accountId: o.account,
      profileId: o.profile,
      scope: o.scope,
      ttl: o.ttl,
      issuer: config.jwtIssuer,
      audience: config.jwtAudience,
    });
    process.stdout.write(token + "\n");
  });

program.parseAsync().catch((e: unknown) => {
  process.stderr.write(`error: ${(e as Error).message}\n`);
  process.exit(e instanceof ConfigError ? 2 : 1);
});
