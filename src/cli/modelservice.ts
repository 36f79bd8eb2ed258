#!/usr/bin/env node
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Argument, Command, CommanderError, Option } from "commander";
import { completionScript, printIds, shells, type Shell } from "./completion.js";
import { createTransport, parseBaseUrl, parseDuration, protocols, type Protocol } from "./client.js";
import { exitCodeOf, report } from "./errors.js";
import { outputFormats, type OutputFormat } from "./output.js";
import { addRpcCommands, type CallContext } from "./rpc-commands.js";
import { secretInput, secretValue } from "./secret-inputs.js";

interface GlobalOptions {
  baseUrl: string;
  protocol: Protocol;
  output: OutputFormat;
  timeout: string;
  connectTimeout: string;
  debug?: boolean;
  all?: boolean;
}

/** The version of the package this file belongs to (dist/src/cli or src/cli). */
function version(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)), i = 0; i < 4; i++, dir = dirname(dir)) {
    const file = join(dir, "package.json");
    if (existsSync(file)) return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
  }
  return "unknown";
}

const apiKeyOption = new Option("--api-key <token>", "bearer token (JWT) of the caller; MODELSERVICE_TOKEN is read too");
const apiKeyInput = secretInput(apiKeyOption, "MODELSERVICE_API_KEY");

/** Whether the call carried a token, known once context() has run: an Unauthenticated answer is explained by it. */
let apiKeyGiven: boolean | undefined;

function context(cmd: Command): CallContext {
  const o = cmd.optsWithGlobals<GlobalOptions>();
  const baseUrl = parseBaseUrl(o.baseUrl);
  const transport = createTransport({
    baseUrl,
    protocol: o.protocol,
    timeoutMs: parseDuration(o.timeout),
    connectTimeoutMs: parseDuration(o.connectTimeout),
  });
  let root = cmd;
  while (root.parent) root = root.parent;
  const apiKey = secretValue(root, apiKeyInput) ?? process.env.MODELSERVICE_TOKEN;
  apiKeyGiven = apiKey !== undefined && apiKey !== "";
  return {
    transport,
    headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {},
    output: o.output,
    all: o.all === true,
  };
}

/** Runs an RPC command: its result on stdout, or one error line on stderr; then exits with the class's code. */
async function run(cmd: Command, work: () => Promise<void>): Promise<void> {
  const o = cmd.optsWithGlobals<GlobalOptions>();
  let code = 0;
  try {
    await work();
  } catch (e) {
    code = report(e, { debug: o.debug, baseUrl: o.baseUrl, apiKeyGiven });
  }
  await new Promise<void>((resolve) => process.stdout.write("", () => resolve()));
  // Open HTTP/2 sessions and keep-alive sockets would otherwise hold the process.
  process.exit(code);
}

/** The program: one command per RPC, the given operator commands (src/ops/), and shell completion. */
function buildProgram(operators: Command[]): Command {
  const program = new Command("modelservice")
    .description(
      "Command-line client of ModelService, the model registry: one command per RPC (Connect, gRPC or gRPC-Web), " +
        "plus the operator commands serve, token, migrate and rotate-keys, all of them (and migrate-store) also under `ops`.",
    )
    .version(version())
    .addOption(new Option("--base-url <url>", "URL of the service").env("MODELSERVICE_URL").default("http://localhost:8080"))
    .addOption(apiKeyOption)
    .addOption(apiKeyInput.file)
    .addOption(apiKeyInput.stdin)
    .addOption(new Option("--protocol <protocol>", "wire protocol").choices(protocols).default("connect"))
    .addOption(new Option("-o, --output <format>", "json: canonical proto JSON; table: aligned columns; csv: rows").choices(outputFormats).default("json"))
    .addOption(new Option("--timeout <duration>", "deadline of each call (500ms, 30s, 2m)").default("30s"))
    .addOption(new Option("--connect-timeout <duration>", "give up connecting to the server after this long").default("5s"))
    .option("--debug", "on failure, also print the stack trace and error details")
    .exitOverride()
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .showSuggestionAfterError(true);

  addRpcCommands(program, context, run);

  for (const operator of operators) {
    operator.copyInheritedSettings(program);
    for (const sub of operator.commands) sub.copyInheritedSettings(operator);
    program.addCommand(operator);
  }

  program
    .command("completion")
    .description("Print a shell completion script: source <(modelservice completion bash); it also completes `npx modelservice`")
    .addArgument(new Argument("<shell>", "the shell").choices(shells))
    .action((shell: Shell) => {
      process.stdout.write(completionScript(shell, program));
    });
  // Used by the completion scripts: the ids of a group's list, each with its name.
  program
    .command("__complete-ids", { hidden: true })
    .argument("<group>")
    .action(async (group: string, _opts: unknown, self: Command) => {
      await run(self, () => printIds(group, context(self)));
    });
  return program;
}

async function main(): Promise<void> {
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    // A reader that went away (`| head`) is not a failure of the command.
    if (e.code === "EPIPE") process.exit(0);
    throw e;
  });
  // The operator commands live outside the client (src/ops/); their definitions are light, and the
  // server's modules load only when one of them runs.
  const { operatorCommands } = await import("../ops/operator-commands.js");
  const program = buildProgram(operatorCommands());
  try {
    await program.parseAsync(process.argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // Commander has already written its one line (or the help).
      process.exitCode = exitCodeOf(e);
      return;
    }
    process.exitCode = report(e, { debug: program.opts<GlobalOptions>().debug });
  }
}

void main();
