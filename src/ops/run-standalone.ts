import { CommanderError, type Command } from "commander";
import { errorLine, exitCodeOf } from "../cli/errors.js";

/** Runs one operator command as its own program (`npm run token`, `npm run rotate-keys`). */
export function runStandalone(command: Command): void {
  // Commander's own errors (a bad flag value) are usage errors here too: exit 2.
  command.exitOverride();
  command.parseAsync().catch((e: unknown) => {
    // Commander has already written its own line (or the help).
    if (!(e instanceof CommanderError)) process.stderr.write(errorLine(e) + "\n");
    process.exit(exitCodeOf(e));
  });
}
