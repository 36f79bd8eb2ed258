import type { Command, Option } from "commander";

/*
 * Shell completion generated from the command tree itself: every command path
 * with the words that may follow it (subcommands, then flags), and the
 * choices of each enum-like flag. Nothing here names a command by hand.
 */

interface Tree {
  /** "modelservice models list" → words after it. */
  words: Map<string, string[]>;
  /** "modelservice models list|--status" → choices. */
  choices: Map<string, string[]>;
}

function longFlags(option: Option): string[] {
  return option.long ? [option.long] : [];
}

function walk(cmd: Command, path: string, globals: readonly Option[], tree: Tree): void {
  const words: string[] = [];
  for (const sub of cmd.commands) {
    if ((sub as Command & { _hidden?: boolean })._hidden) continue;
    words.push(sub.name(), ...sub.aliases());
  }
  const options = [...cmd.options, ...(path === "modelservice" ? [] : globals)];
  for (const option of options) {
    if (option.hidden) continue;
    words.push(...longFlags(option));
    if (option.argChoices && option.long) tree.choices.set(`${path}|${option.long}`, option.argChoices);
  }
  words.push("--help");
  tree.words.set(path, [...new Set(words)]);
  for (const sub of cmd.commands) {
    for (const name of [sub.name(), ...sub.aliases()]) walk(sub, `${path} ${name}`, globals, tree);
  }
}

function treeOf(program: Command): Tree {
  const tree: Tree = { words: new Map(), choices: new Map() };
  walk(program, "modelservice", program.options, tree);
  return tree;
}

function quote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

export function bashCompletion(program: Command): string {
  const tree = treeOf(program);
  const words = [...tree.words].map(([k, v]) => `    ${quote(k)}) echo ${quote(v.join(" "))} ;;`).join("\n");
  const choices = [...tree.choices].map(([k, v]) => `    ${quote(k)}) echo ${quote(v.join(" "))} ;;`).join("\n");
  return `# bash completion for modelservice. Load it with:
#   source <(modelservice completion bash)
# or save it as /etc/bash_completion.d/modelservice.
_modelservice_words() {
  case "$1" in
${words}
  esac
}
_modelservice_choices() {
  case "$1" in
${choices}
  esac
}
_modelservice() {
  local cur prev path=modelservice next w i
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    [[ "$w" == -* ]] && continue
    next="$path $w"
    [[ -n "$(_modelservice_words "$next")" ]] && path="$next"
  done
  if [[ "$prev" == --* ]]; then
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
  COMPREPLY=($(compgen -W "$(_modelservice_words "$path")" -- "$cur"))
}
complete -F _modelservice modelservice
`;
}

export function zshCompletion(program: Command): string {
  const tree = treeOf(program);
  const words = [...tree.words].map(([k, v]) => `  ${quote(k)} ${quote(v.join(" "))}`).join("\n");
  const choices = [...tree.choices].map(([k, v]) => `  ${quote(k)} ${quote(v.join(" "))}`).join("\n");
  return `#compdef modelservice
# zsh completion for modelservice. Load it with (after compinit):
#   source <(modelservice completion zsh)
# or save it as _modelservice in a directory of $fpath.
typeset -gA _modelservice_tree _modelservice_choices
_modelservice_tree=(
${words}
)
_modelservice_choices=(
${choices}
)
_modelservice() {
  local cmdpath=modelservice next w i prev
  for ((i = 2; i < CURRENT; i++)); do
    w=\${words[i]}
    [[ $w == -* ]] && continue
    next="$cmdpath $w"
    (( \${+_modelservice_tree[$next]} )) && cmdpath=$next
  done
  prev=\${words[CURRENT-1]}
  if [[ $prev == --* ]]; then
    if [[ $prev == --file || $prev == *-file ]]; then
      _files
      return
    fi
    if (( \${+_modelservice_choices[$cmdpath|$prev]} )); then
      compadd -- \${=_modelservice_choices[$cmdpath|$prev]}
      return
    fi
  fi
  compadd -- \${=_modelservice_tree[$cmdpath]}
}
compdef _modelservice modelservice
`;
}
