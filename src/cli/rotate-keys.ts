import { rotateKeysCommand, runStandalone } from "./operator-commands.js";

// `npm run rotate-keys`: the same command as `modelservice rotate-keys`.
runStandalone(rotateKeysCommand());
