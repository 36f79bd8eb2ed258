import { create, type Message } from "@bufbuild/protobuf";
import { createClient, type CallOptions } from "@connectrpc/connect";
import type { Command, Option } from "commander";
import { ModelService } from "../../gen/modelservice/v1/model_service_pb.js";
import { rpcCommands } from "./command-table.js";
import type { CallContext } from "./rpc-commands.js";

/*
 * Shell completion generated from the command tree itself: every command path
 * with the words that may follow it (subcommands, then flags), the choices of
 * each enum-like flag (long and short), and the commands that take an id,
 * whose ids come from the server (`__complete-ids`) when a token is set.
 * Nothing here names a command by hand. Each script also completes
 * `npx modelservice …`.
 */

export const shells = ["bash", "zsh", "fish"] as const;
export type Shell = (typeof shells)[number];

interface Tree {
  /** "modelservice models list" → words after it. */
  words: Map<string, string[]>;
  /** "modelservice models list|--status" → choices. */
  choices: Map<string, string[]>;
  /** "modelservice models retrieve" → "models": the group whose ids the command takes. */
  ids: Map<string, string>;
}

function walk(cmd: Command, path: string, globals: readonly Option[], tree: Tree): void {
  const words: string[] = [];
  for (const sub of cmd.commands) {
    if ((sub as Command & { _hidden?: boolean })._hidden) continue;
    words.push(sub.name(), ...sub.aliases());
  }
  const options = [...cmd.options, ...(path === "modelservice" ? [] : globals)];
  for (const option of options) {
    if (option.hidden || !option.long) continue;
    words.push(option.long);
    if (!option.argChoices) continue;
    for (const flag of [option.long, option.short]) if (flag) tree.choices.set(`${path}|${flag}`, option.argChoices);
  }
  if (cmd.options.some((o) => o.long === "--id")) tree.ids.set(path, path.split(" ")[1]!);
  words.push("--help");
  tree.words.set(path, [...new Set(words)]);
  for (const sub of cmd.commands) {
    if ((sub as Command & { _hidden?: boolean })._hidden) continue;
    for (const name of [sub.name(), ...sub.aliases()]) walk(sub, `${path} ${name}`, globals, tree);
  }
}

function treeOf(program: Command): Tree {
  const tree: Tree = { words: new Map(), choices: new Map(), ids: new Map() };
  walk(program, "modelservice", program.options, tree);
  return tree;
}

function quote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

function cases(map: Map<string, string[] | string>, indent: string): string {
  return [...map].map(([k, v]) => `${indent}${quote(k)}) echo ${quote(Array.isArray(v) ? v.join(" ") : v)} ;;`).join("\n");
}

/** Options of the `__complete-ids` call: a short wait, so a slow server does not hang the shell. */
const idsCall = "__complete-ids --timeout 2s --connect-timeout 1s";

function bashCompletion(program: Command): string {
  const tree = treeOf(program);
  return `# bash completion for modelservice (and npx modelservice). Load it with:
#   source <(modelservice completion bash)
# or save it as /etc/bash_completion.d/modelservice.
_modelservice_words() {
  case "$1" in
${cases(tree.words, "    ")}
  esac
}
_modelservice_choices() {
  case "$1" in
${cases(tree.choices, "    ")}
  esac
}
_modelservice_id_group() {
  case "$1" in
${cases(tree.ids, "    ")}
  esac
}
_modelservice() {
  local cur prev path=modelservice next w i verb_at=0 group
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    [[ "$w" == -* ]] && continue
    next="$path $w"
    if [[ -n "$(_modelservice_words "$next")" ]]; then
      path="$next"
      verb_at=$i
    fi
  done
  if [[ "$prev" == -* ]]; then
    if [[ "$prev" == --file || "$prev" == *-file ]]; then
      COMPREPLY=($(compgen -f -- "$cur"))
      return
    fi
    local choices
    choices="$(_modelservice_choices "$path|$prev")"
    if [[ -n "$choices" ]]; then
      COMPREPLY=($(compgen -W "$choices" -- "$cur"))
      return
    fi
  fi
  group="$(_modelservice_id_group "$path")"
  if [[ -n "$group" && "$cur" != -* && ( "$prev" == --id || $verb_at -eq $((COMP_CWORD - 1)) ) ]]; then
    if [[ -n "$MODELSERVICE_API_KEY$MODELSERVICE_TOKEN" ]]; then
      COMPREPLY=($(compgen -W "$("\${_modelservice_cmd[@]:-\${COMP_WORDS[0]}}" ${idsCall} "$group" 2>/dev/null | cut -f1)" -- "$cur"))
    fi
    return
  fi
  COMPREPLY=($(compgen -W "$(_modelservice_words "$path")" -- "$cur"))
}
# npx modelservice …: the words after npx's own flags, completed as modelservice's.
_modelservice_npx() {
  local i=1
  while ((i < COMP_CWORD)) && [[ "\${COMP_WORDS[i]}" == -* ]]; do ((i++)); done
  if ((i < COMP_CWORD)) && [[ "\${COMP_WORDS[i]}" == modelservice ]]; then
    local _modelservice_cmd=(npx --no-install modelservice)
    COMP_WORDS=("\${COMP_WORDS[@]:i}")
    COMP_CWORD=$((COMP_CWORD - i))
    _modelservice
    return
  fi
  COMPREPLY=($(compgen -f -- "\${COMP_WORDS[COMP_CWORD]}"))
}
complete -F _modelservice modelservice
complete -F _modelservice_npx npx
`;
}

function zshCompletion(program: Command): string {
  const tree = treeOf(program);
  const entries = (map: Map<string, string[] | string>) => [...map].map(([k, v]) => `  ${quote(k)} ${quote(Array.isArray(v) ? v.join(" ") : v)}`).join("\n");
  return `#compdef modelservice npx
# zsh completion for modelservice (and npx modelservice). Load it with (after compinit):
#   source <(modelservice completion zsh)
# or save it as _modelservice in a directory of $fpath.
typeset -gA _modelservice_tree _modelservice_choices _modelservice_ids
_modelservice_tree=(
${entries(tree.words)}
)
_modelservice_choices=(
${entries(tree.choices)}
)
_modelservice_ids=(
${entries(tree.ids)}
)
_modelservice() {
  local cmdpath=modelservice next w i prev verb_at=0
  local -a runner
  if [[ \${words[1]} == npx ]]; then
    runner=(npx --no-install modelservice)
    shift words
    (( CURRENT-- ))
    while [[ \${words[1]} == -* && CURRENT -gt 1 ]]; do shift words; (( CURRENT-- )); done
    if [[ \${words[1]} != modelservice || CURRENT -lt 2 ]]; then
      _files
      return
    fi
  else
    runner=(\${words[1]})
  fi
  for ((i = 2; i < CURRENT; i++)); do
    w=\${words[i]}
    [[ $w == -* ]] && continue
    next="$cmdpath $w"
    if (( \${+_modelservice_tree[$next]} )); then
      cmdpath=$next
      verb_at=$i
    fi
  done
  prev=\${words[CURRENT-1]}
  if [[ $prev == -* ]]; then
    if [[ $prev == --file || $prev == *-file ]]; then
      _files
      return
    fi
    if (( \${+_modelservice_choices[$cmdpath|$prev]} )); then
      compadd -- \${=_modelservice_choices[$cmdpath|$prev]}
      return
    fi
  fi
  if (( \${+_modelservice_ids[$cmdpath]} )) && [[ \${words[CURRENT]} != -* ]] && [[ $prev == --id || $verb_at -eq $((CURRENT - 1)) ]]; then
    if [[ -n "$MODELSERVICE_API_KEY$MODELSERVICE_TOKEN" ]]; then
      local -a ids
      ids=(\${(f)"$($runner ${idsCall} \${_modelservice_ids[$cmdpath]} 2>/dev/null | cut -f1)"})
      compadd -- $ids
    fi
    return
  fi
  compadd -- \${=_modelservice_tree[$cmdpath]}
}
compdef _modelservice modelservice npx
`;
}

function fishCompletion(program: Command): string {
  const tree = treeOf(program);
  const fishCases = (map: Map<string, string[] | string>) =>
    [...map].map(([k, v]) => `        case ${quote(k)}\n            printf '%s\\n' ${(Array.isArray(v) ? v : [v]).map(quote).join(" ")}`).join("\n");
  return `# fish completion for modelservice (and npx modelservice). Load it with:
#   modelservice completion fish | source
# or save it as ~/.config/fish/completions/modelservice.fish.
function __modelservice_words
    switch $argv[1]
${fishCases(tree.words)}
    end
end
function __modelservice_choices
    switch $argv[1]
${fishCases(tree.choices)}
    end
end
function __modelservice_id_group
    switch $argv[1]
${fishCases(tree.ids)}
    end
end
function __modelservice_complete
    set -l tokens (commandline -opc)
    set -l runner $tokens[1]
    if test "$tokens[1]" = npx
        set -e tokens[1]
        while string match -q -- '-*' "$tokens[1]"
            set -e tokens[1]
        end
        test "$tokens[1]" = modelservice; or return
        set runner npx --no-install modelservice
    end
    set -l path modelservice
    set -l verb_at 0
    for i in (seq 2 (count $tokens))
        string match -q -- '-*' $tokens[$i]; and continue
        if test -n "$(__modelservice_words "$path $tokens[$i]")"
            set path "$path $tokens[$i]"
            set verb_at $i
        end
    end
    set -l prev $tokens[-1]
    if string match -q -- '-*' $prev
        if string match -q -- '*-file' $prev
            __fish_complete_path (commandline -ct)
            return
        end
        set -l choices (__modelservice_choices "$path|$prev")
        if test (count $choices) -gt 0
            printf '%s\\n' $choices
            return
        end
    end
    set -l group (__modelservice_id_group "$path")
    if test -n "$group"; and not string match -q -- '-*' (commandline -ct); and begin; test "$prev" = --id; or test $verb_at -eq (count $tokens); end
        if test -n "$MODELSERVICE_API_KEY$MODELSERVICE_TOKEN"
            $runner ${idsCall} $group 2>/dev/null
        end
        return
    end
    __modelservice_words "$path"
end
complete -c modelservice -f -a '(__modelservice_complete)'
complete -c npx -n 'contains -- modelservice (commandline -opc)' -f -a '(__modelservice_complete)'
`;
}

export function completionScript(shell: Shell, program: Command): string {
  switch (shell) {
    case "bash":
      return bashCompletion(program);
    case "zsh":
      return zshCompletion(program);
    case "fish":
      return fishCompletion(program);
  }
}

type UnaryFn = (req: Message, options: CallOptions) => Promise<{ items: Array<Record<string, unknown>> }>;

/** `__complete-ids <group>`: one `id<TAB>name` line per item of the group's list (its first page). */
export async function printIds(group: string, ctx: CallContext): Promise<void> {
  const list = rpcCommands().find((r) => r.group === group && r.verb === "list");
  if (!list) return;
  const client = createClient(ModelService, ctx.transport) as unknown as Record<string, UnaryFn>;
  const request = create(list.method.input, list.method.input.field.limit ? { limit: 200 } : {});
  const page = await client[list.method.localName]!(request, { headers: ctx.headers });
  const lines = page.items.map((item) => {
    const metadata = (item.metadata ?? (item.model as { metadata?: unknown } | undefined)?.metadata) as { id?: string; name?: string } | undefined;
    const id = (item.id as string | undefined) ?? metadata?.id ?? "";
    return `${id}\t${metadata?.name ?? ""}\n`;
  });
  process.stdout.write(lines.join(""));
}
