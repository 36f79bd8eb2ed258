import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, expect, it } from "vitest";
import { modelClient } from "./support/clients.js";
import { createDatabase, startPostgresCluster, type PostgresCluster } from "./support/postgres.js";
import { startTestService, type TestService } from "./support/service.js";

/**
 * Issue 18: PostgreSQL stopped and started again under a write loop. Its
 * own cluster (stopping a shared one would break other files).
 */
let cluster: PostgresCluster;
let service: TestService;

beforeAll(async () => {
  cluster = await startPostgresCluster();
  const database = await createDatabase(cluster.adminUrl);
  service = await startTestService({ MODELSERVICE_DB: database.url });
}, 120_000);
afterAll(async () => {
  await service?.dispose();
  cluster?.stop();
});

const status = (path: string) => fetch(service.url + path).then((r) => ({ code: r.status, retryAfter: r.headers.get("retry-after") }));

it("a database that goes away: Unavailable (503 with Retry-After), /readyz fails, /healthz and /metrics stay; back: recovery without restart, no acknowledged write lost", async () => {
  const token = await service.token("ws_outage");
  const client = modelClient(service.url, token);
  const acknowledged: string[] = [];
  const failures: Code[] = [];
  let writing = true;
  const loop = (async () => {
    for (let i = 0; writing; i++) {
      try {
        const m = await client.createModel({ model: { metadata: { name: `loop-${i}` }, spec: { family: "f" } }, requestId: `loop-${i}` });
        acknowledged.push(m.metadata!.id);
      } catch (e) {
        failures.push(ConnectError.from(e).code);
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  })();
  while (acknowledged.length < 20) await new Promise((r) => setTimeout(r, 10));

  cluster.stopServer();
  await expect(client.createModel({ model: { metadata: { name: "while-down" }, spec: { family: "f" } } })).rejects.toSatisfy(
    (e) => ConnectError.from(e).code === Code.Unavailable,
  );
  await expect(client.listModels({})).rejects.toSatisfy((e) => ConnectError.from(e).code === Code.Unavailable);
  const rest = await fetch(`${service.url}/v1/models`, { headers: { authorization: `Bearer ${token}` } });
  expect(rest.status).toBe(503);
  expect(rest.headers.get("retry-after")).not.toBeNull();
  expect((await status("/readyz")).code).toBe(503);
  expect((await status("/healthz")).code).toBe(200);
  // /metrics stays up; the database size is unknown (NaN) while the database is down.
  const metrics = await fetch(`${service.url}/metrics`);
  expect(metrics.status).toBe(200);
  // prom-client writes NaN as "Nan" (Prometheus parses it case-insensitively).
  expect(await metrics.text()).toMatch(/^modelservice_database_bytes nan$/im);
  const ackedWhileDown = acknowledged.length;

  cluster.startServer();
  while ((await status("/readyz")).code !== 200) await new Promise((r) => setTimeout(r, 50));
  while (acknowledged.length < ackedWhileDown + 20) await new Promise((r) => setTimeout(r, 10));
  writing = false;
  await loop;

  expect(failures.length).toBeGreaterThan(0);
  expect(failures.every((c) => c === Code.Unavailable)).toBe(true);
  const stored = new Set<string>();
  for (let cursor = ""; ; ) {
    const page = await client.listModels({ limit: 1000, cursor });
    for (const m of page.items) stored.add(m.metadata!.id);
    if (!page.pagination?.nextCursor) break;
    cursor = page.pagination.nextCursor;
  }
  expect(acknowledged.filter((id) => !stored.has(id))).toEqual([]);
}, 60_000);
