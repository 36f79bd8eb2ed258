import { rotateKeysCommand } from "./operator-commands.js";
import { runStandalone } from "./run-standalone.js";

// `npm run rotate-keys`: the same command as `modelservice rotate-keys`.
runStandalone(rotateKeysCommand());
