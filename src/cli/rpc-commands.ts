import type { Message } from "@bufbuild/protobuf";
import type { Transport } from "@connectrpc/connect";
import { Command, Option } from "commander";
import { ModelService } from "../../gen/modelservice/v1/model_service_pb.js";
import { buildRequest } from "./build-request.js";
import { rpcCommands } from "./command-table.js";
import { UsageError } from "./errors.js";
import type { OutputFormat } from "./output.js";
import { comments, requestFlags } from "./request-flags.js";
import { isPaged, isWatch, runRpc } from "./run-rpc.js";
import { sinceOption } from "./watch-command.js";

export interface CallContext {
  transport: Transport;
  headers: Record<string, string>;
  output: OutputFormat;
  all: boolean;
}

/** `<group>` commands, each with one `<verb>` per RPC. */
export function addRpcCommands(program: Command, context: (cmd: Command) => CallContext, run: (cmd: Command, work: () => Promise<void>) => Promise<void>): void {
  const groups = new Map<string, Command>();
  const groupHelp: Record<string, string> = {
    models: "The models of a workspace.",
    bundles: "Configuration bundles: sets of models applied as a whole.",
    drafts: "Drafts of models, edited before they are published.",
    "system-models": "The platform's system models and catalog (models:admin).",
  };
  for (const rpc of rpcCommands()) {
    let group = groups.get(rpc.group);
    if (!group) {
      group = program.command(rpc.group).description(groupHelp[rpc.group] ?? rpc.group);
      groups.set(rpc.group, group);
    }
    const flags = requestFlags(rpc.method);
    const description = (comments[`${ModelService.typeName}.${rpc.method.name}`] ?? rpc.method.name).replace(/\s*\n\s*/g, " ");
    const cmd = group.command(rpc.verb).description(`${description}\n(RPC ${ModelService.typeName}/${rpc.method.name})`);
    if (rpc.alias) cmd.alias(rpc.alias);
    for (const flag of flags) {
      cmd.addOption(flag.option);
      if (flag.kind === "value" && flag.secret) cmd.addOption(flag.secret.file).addOption(flag.secret.stdin);
    }
    if (isPaged(rpc.method)) cmd.addOption(new Option("--all", "Follow every page and print all items as one response."));
    if (isWatch(rpc.method)) cmd.addOption(sinceOption);
    const takesId = rpc.method.input.field.id?.fieldKind === "scalar";
    if (takesId) cmd.argument("[id]", "the id, as --id takes it");
    const fieldFlags = flags.flatMap((f) => (f.kind === "value" && f.option.long && !f.option.negate ? [{ long: f.option.long, path: f.path }] : []));
    cmd.action(async (...args: unknown[]) => {
      const self = args[args.length - 1] as Command;
      await run(self, async () => {
        const positional = takesId ? (self.processedArgs[0] as string | undefined) : undefined;
        if (positional !== undefined) {
          const flagged = self.getOptionValue("id") as string | undefined;
          if (flagged !== undefined && flagged !== positional) throw new UsageError(`two different ids: "${positional}" and --id "${flagged}"`);
          self.setOptionValueWithSource("id", positional, "cli");
        }
        const request = buildRequest(rpc.method, flags, self);
        const since = self.getOptionValue(sinceOption.attributeName()) as string | undefined;
        if (since !== undefined) (request as Message & { resumeToken: string }).resumeToken = since;
        const ctx = context(self);
        await runRpc(rpc, request, ctx, fieldFlags);
      });
    });
  }
}
