import { mintToken } from "../src/domain/auth/token-minter.js";

export interface Minter {
  token(workspaceId: string, scope?: string): Promise<string>;
}

export function minter(secret: string): Minter {
  const key = new TextEncoder().encode(secret);
  return {
    token: (workspaceId, scope = "models:read") =>
      mintToken({ secret: key, workspaceId, accountId: "acct_bench", profileId: "profile_bench", scope, ttl: "2h" }),
  };
}

/** Runs `work(i)` for i in [0, n) with `concurrency` calls at a time. */
async function pool(n: number, concurrency: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await work(next++);
    }),
  );
}

/** Creates workspaces the way production does: each one's first call gives it copies of the catalog. */
export async function seedWorkspaces(url: string, mint: Minter, count: number): Promise<void> {
  await pool(count, 8, async (i) => {
    const res = await fetch(`${url}/v1/models?limit=1`, { headers: { authorization: `Bearer ${await mint.token(`ws_scale_${i}`)}` } });
    if (!res.ok) throw new Error(`seeding workspace ${i}: HTTP ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
  });
}

/** Creates custom models in one workspace through BatchCreateModels, 1000 per call. */
export async function seedCustomModels(url: string, token: string, count: number): Promise<void> {
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  // One batch at a time: the server writes them one after another anyway.
  await pool(Math.ceil(count / 1000), 1, async (batch) => {
    const done = batch * 1000;
    const requests = Array.from({ length: Math.min(1000, count - done) }, (_, i) => ({
      model: {
        metadata: { name: `Bench model ${done + i}, "quoted"`, externalId: `bench-${done + i}`, labels: { team: "bench", shard: String(i % 10) } },
        spec: { provider: "acme", family: `bench-${i % 50}`, inputPricePerMillionTokensUsd: "0.075", maxInputTokens: 128000 },
      },
    }));
    const res = await fetch(`${url}/v1/models:batchCreate`, { method: "POST", headers, body: JSON.stringify({ requests }) });
    if (!res.ok) throw new Error(`seeding models: HTTP ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
  });
}
