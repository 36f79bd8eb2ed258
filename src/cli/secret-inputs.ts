import { readFileSync } from "node:fs";
import { Option, type Command } from "commander";
import { UsageError } from "./errors.js";

/** The flag that took standard input, if one did: only one can. */
let stdinTakenBy: string | undefined;

/** The bytes of a file, or of standard input for "-". */
export function readInput(path: string, flag: string): Buffer {
  if (path === "-") {
    if (stdinTakenBy !== undefined && stdinTakenBy !== flag) {
      throw new UsageError(`${stdinTakenBy} and ${flag} both read standard input; give one of them a file`);
    }
    stdinTakenBy = flag;
  }
  try {
    return readFileSync(path === "-" ? 0 : path);
  } catch (e) {
    throw new UsageError(`cannot read ${flag} "${path}": ${(e as Error).message}`);
  }
}

/**
 * A secret flag (`--token`) and its other sources, as `docker login
 * --password-stdin` has them: `--token-file <path|->`, `--token-stdin` and an
 * environment variable. The value on the command line still works, with a
 * warning: it ends up in shell history and `ps`.
 */
export interface SecretInput {
  flag: Option;
  file: Option;
  stdin: Option;
  env: string;
}

export function secretInput(flag: Option, env: string): SecretInput {
  const name = flag.long!;
  flag.env(env);
  const file = new Option(`${name}-file <path|->`, `${name} read from a file (- for standard input).`);
  const stdin = new Option(`${name}-stdin`, `${name} read from standard input.`);
  if (flag.helpGroupHeading) for (const option of [file, stdin]) option.helpGroup(flag.helpGroupHeading);
  return { flag, env, file, stdin };
}

function secretText(data: Buffer, flag: string): string {
  const text = data.toString("utf8").replace(/\r?\n$/, "");
  if (text === "") throw new UsageError(`${flag} is empty`);
  return text;
}

/** The secret's value from whichever source was given (the flag, its file, stdin, then the environment), or undefined. */
export function secretValue(cmd: Command, input: SecretInput): string | undefined {
  const source = (option: Option) => cmd.getOptionValueSource(option.attributeName());
  const fromCli = [input.flag, input.file, input.stdin].filter((o) => source(o) === "cli");
  if (fromCli.length > 1) throw new UsageError(`give one of ${fromCli.map((o) => o.long).join(", ")}`);
  if (source(input.file) === "cli") return secretText(readInput(cmd.getOptionValue(input.file.attributeName()) as string, input.file.long!), input.file.long!);
  if (source(input.stdin) === "cli") return secretText(readInput("-", input.stdin.long!), input.stdin.long!);
  const value = cmd.getOptionValue(input.flag.attributeName()) as string | undefined;
  if (source(input.flag) === "cli") {
    process.stderr.write(
      `warning: a secret given as ${input.flag.long} ends up in shell history and ps; use ${input.file.long}, ${input.stdin.long} or ${input.env}\n`,
    );
  }
  return value;
}
