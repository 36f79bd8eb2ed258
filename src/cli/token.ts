import { runStandalone, tokenCommand } from "./operator-commands.js";

// `npm run token`: the same command as `modelservice token`.
runStandalone(tokenCommand());
