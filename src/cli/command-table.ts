import type { DescMethod } from "@bufbuild/protobuf";
import { ModelService } from "../../gen/modelservice/v1/model_service_pb.js";

/**
 * The one place where RPC names become CLI words. An RPC name is split into
 * its CamelCase words; the first noun found (longest first) names the group,
 * the remaining words, kebab-cased, name the verb, then a verb is renamed when
 * the table says so. Everything else (options, help, completion) is derived
 * from the method descriptors.
 */
const groups: ReadonlyArray<readonly [noun: string, group: string]> = [
  ["SystemModels", "system-models"],
  ["SystemModel", "system-models"],
  ["ModelDrafts", "drafts"],
  ["ModelDraft", "drafts"],
  ["Catalog", "system-models"],
  ["Bundle", "bundles"],
  ["Models", "models"],
  ["Model", "models"],
  ["Cost", "models"],
  ["UpstreamChange", "models"],
];

/** Verbs renamed after the rule (seed 003 names: `retrieve`, `revisions`). */
const verbRenames: Readonly<Record<string, string>> = {
  get: "retrieve",
  "list-revisions": "revisions",
  estimate: "estimate-cost",
  "batch-estimate": "batch-estimate-cost",
  acknowledge: "acknowledge-upstream-change",
};

/** Other names a verb also answers to. */
const verbAliases: Readonly<Record<string, string>> = {
  retrieve: "get",
};

export interface CommandName {
  group: string;
  verb: string;
  alias?: string;
}

function kebab(words: string[]): string {
  return words.map((w) => w.toLowerCase()).join("-");
}

/** `<group> <verb>` of an RPC, e.g. SetModelStatus → models set-status. */
export function commandName(rpcName: string): CommandName {
  for (const [noun, group] of groups) {
    const at = rpcName.search(new RegExp(`${noun}(?=[A-Z]|$)`));
    if (at < 0) continue;
    const rest = rpcName.slice(0, at) + rpcName.slice(at + noun.length);
    const words = rest.match(/[A-Z][a-z0-9]*/g) ?? [];
    const plain = kebab(words);
    const verb = verbRenames[plain] ?? plain;
    const alias = verbAliases[verb];
    return alias ? { group, verb, alias } : { group, verb };
  }
  throw new Error(`no CLI group for RPC ${rpcName}: add its noun to src/cli/command-table.ts`);
}

export interface RpcCommand extends CommandName {
  method: DescMethod;
}

/** Groups an RPC's command also answers under: `catalog refresh` is `system-models refresh`. */
const groupAliases: Readonly<Record<string, string>> = {
  RefreshCatalog: "catalog",
};

/** Every RPC of ModelService with its command name, then once more under each group alias. */
export function rpcCommands(): RpcCommand[] {
  return ModelService.methods.flatMap((method) => {
    const name = commandName(method.name);
    const alias = groupAliases[method.name];
    return alias === undefined ? [{ ...name, method }] : [{ ...name, method }, { ...name, group: alias, method }];
  });
}
