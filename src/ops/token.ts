import { tokenCommand } from "./operator-commands.js";
import { runStandalone } from "./run-standalone.js";

// `npm run token`: the same command as `modelservice token`.
runStandalone(tokenCommand());
