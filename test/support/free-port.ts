import { createServer } from "node:net";

/** A loopback port free right now (the OS picks it). No vitest here: the bench imports it too. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      if (typeof address !== "object" || address === null) return reject(new Error("no port"));
      server.close(() => resolve(address.port));
    });
  });
}
