import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BadRequestSchema } from "../gen/google/rpc/error_details_pb.js";
import { ModelService } from "../gen/modelservice/v1/model_service_pb.js";
import { modelClient, type ModelClient } from "./support/clients.js";
import { startTestService, type TestService } from "./support/service.js";

/**
 * What a deadline means for the writes that make many rows (issue 14, item
 * 5): ImportModels and the batches, allowPartial included, are one
 * transaction that rolls back at the deadline. Raced against deadlines of
 * several lengths, each call ends either DeadlineExceeded with no new row, or
 * OK with exactly the rows it reports; a retry with the same request ids never
 * duplicates. The deadlines travel as plain headers, so the clients never time
 * out on their own: every DeadlineExceeded seen here was decided by the
 * server. Also BatchDeleteModels with a repeated id (item 13).
 */

let service: TestService;
const ws = "ws_write_deadlines";
let token: string;
let c: ModelClient;

beforeAll(async () => {
  service = await startTestService();
  token = await service.token(ws);
  c = modelClient(service.url, token);
  await c.listModels({ limit: 1 });
});
afterAll(() => service.dispose());

const rows = 500;

function tagOf(label: string): string {
  return `${label}-${Math.random().toString(36).slice(2, 8)}`;
}

async function countTagged(tag: string): Promise<number> {
  return (await c.listModels({ limit: 1, labels: `deadline=${tag}`, showDeleted: true })).pagination!.total!;
}

/** The count once it stops changing: the server may still be working on a call it has answered DeadlineExceeded. */
async function settledCount(tag: string): Promise<number> {
  let previous = await countTagged(tag);
  for (;;) {
    await new Promise((r) => setTimeout(r, 200));
    const now = await countTagged(tag);
    if (now === previous) return now;
    previous = now;
  }
}

/** A Connect call over fetch with the deadline as a header only. */
async function connectCall(method: string, body: unknown, timeoutMs: number): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${service.url}/modelservice.v1.ModelService/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}`, "connect-timeout-ms": String(timeoutMs) },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

function grpcClient(): ModelClient {
  const auth: Interceptor = (next) => (req) => {
    req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
  return createClient(ModelService, createGrpcTransport({ baseUrl: service.url, interceptors: [auth] }));
}

function importCsv(tag: string): string {
  let csv = "name,labels,provider,description\r\n";
  for (let i = 0; i < rows; i++) csv += `Imported ${tag} ${i},deadline=${tag},acme,row ${i}\r\n`;
  return csv;
}

function creates(tag: string, requestIds = false) {
  return Array.from({ length: rows }, (_, i) => ({
    model: { metadata: { name: `Batch ${tag} ${i}`, labels: { deadline: tag } }, spec: { provider: "acme" } },
    ...(requestIds ? { requestId: `${tag}-${i}` } : {}),
  }));
}

/** How a call ended: "ok" with the rows it reports written, or the code of its error. */
interface Outcome {
  code: string;
  reported: number;
}

/**
 * Races a call that writes `rows` rows labelled with its tag against its
 * deadline: first with an ample one, timing it, then with deadlines from
 * none at all to a little past that time, so that some land while rows are
 * being written. Each ends DeadlineExceeded with no row written, or OK with
 * exactly the rows it reports.
 */
async function race(label: string, call: (tag: string, timeoutMs: number) => Promise<Outcome>): Promise<void> {
  const check = async (tag: string, outcome: Outcome, timeoutMs: number) => {
    expect(["ok", "deadline_exceeded"], `${outcome.code} after ${timeoutMs} ms`).toContain(outcome.code);
    if (outcome.code === "ok") expect(outcome.reported).toBe(rows);
    expect(await settledCount(tag), `${outcome.code} after ${timeoutMs} ms`).toBe(outcome.code === "ok" ? outcome.reported : 0);
  };
  const ampleTag = tagOf(label);
  const started = Date.now();
  const ample = await call(ampleTag, 60_000);
  const took = Date.now() - started;
  expect(ample.code).toBe("ok");
  await check(ampleTag, ample, 60_000);
  for (const fraction of [0, 0.25, 0.5, 0.75, 1, 1.25]) {
    const timeoutMs = Math.max(1, Math.round(took * fraction));
    const tag = tagOf(label);
    const outcome = await call(tag, timeoutMs);
    if (fraction === 0) expect(outcome.code, "a 1 ms deadline").toBe("deadline_exceeded");
    await check(tag, outcome, timeoutMs);
  }
}

function connectOutcome(res: { status: number; body: Record<string, unknown> }, reported: number): Outcome {
  return { code: res.status === 200 ? "ok" : String(res.body.code), reported };
}

describe("a deadline leaves a multi-row write all written or not at all", () => {
  it(`ImportModels of ${rows} rows over Connect`, async () => {
    await race("import", async (tag, timeoutMs) => {
      const res = await connectCall("ImportModels", { csv: { contentType: "text/csv", data: Buffer.from(importCsv(tag)).toString("base64") } }, timeoutMs);
      return connectOutcome(res, Number(res.body.createdCount ?? 0));
    });
  }, 90_000);

  it(`ImportModels of ${rows} rows over gRPC`, async () => {
    await race("import-grpc", (tag, timeoutMs) =>
      grpcClient()
        .importModels({ csv: { contentType: "text/csv", data: Buffer.from(importCsv(tag)) } }, { headers: { "grpc-timeout": `${timeoutMs}m` } })
        .then(
          (r) => ({ code: "ok", reported: r.createdCount }),
          (e: unknown) => ({ code: ConnectError.from(e).code === Code.DeadlineExceeded ? "deadline_exceeded" : String(e), reported: 0 }),
        ),
    );
  }, 90_000);

  it(`BatchCreateModels of ${rows} with allowPartial over Connect`, async () => {
    await race("partial", async (tag, timeoutMs) => {
      const res = await connectCall("BatchCreateModels", { requests: creates(tag), allowPartial: true }, timeoutMs);
      const results = (res.body.results ?? []) as Array<{ model?: unknown }>;
      return connectOutcome(res, results.filter((r) => r.model !== undefined).length);
    });
  }, 90_000);

  it("a retry after a deadline never duplicates: an import, and a partial batch with the same request ids", async () => {
    const timing = tagOf("retry-timing");
    let started = Date.now();
    await c.importModels({ csv: { contentType: "text/csv", data: Buffer.from(importCsv(timing)) } });
    const importTook = Date.now() - started;
    started = Date.now();
    await c.batchCreateModels({ requests: creates(timing, true), allowPartial: true });
    const batchTook = Date.now() - started;
    for (const fraction of [0.5, 0.9]) {
      const imported = tagOf("retry-import");
      const csv = { contentType: "text/csv", data: Buffer.from(importCsv(imported)).toString("base64") };
      const first = await connectCall("ImportModels", { csv }, Math.max(1, Math.round(importTook * fraction)));
      expect([200, 504]).toContain(first.status);
      await settledCount(imported);
      // An import carries no request id: a caller told DeadlineExceeded imports the file again.
      if (first.status === 504) await c.importModels({ csv: { contentType: "text/csv", data: Buffer.from(importCsv(imported)) } });
      expect(await countTagged(imported), `import retried after ${first.status}`).toBe(rows);

      const batched = tagOf("retry-batch");
      const requests = creates(batched, true);
      const firstBatch = await connectCall("BatchCreateModels", { requests, allowPartial: true }, Math.max(1, Math.round(batchTook * fraction)));
      expect([200, 504]).toContain(firstBatch.status);
      await settledCount(batched);
      const retry = await c.batchCreateModels({ requests, allowPartial: true });
      expect(retry.results.filter((r) => r.result.case === "model")).toHaveLength(rows);
      expect(await countTagged(batched)).toBe(rows);
      // When the first call made them, the retry answers the very same models.
      if (firstBatch.status === 200) {
        const ids = (firstBatch.body.results as Array<{ model: { metadata: { id: string } } }>).map((r) => r.model.metadata.id);
        expect(retry.results.map((r) => (r.result.case === "model" ? r.result.value.metadata!.id : ""))).toEqual(ids);
      }
    }
  }, 90_000);
});

describe("batches naming a model twice", () => {
  it("is InvalidArgument naming the repeated index, over Connect and REST, with or without allowPartial; nothing is deleted", async () => {
    const made = await c.batchCreateModels({ requests: creates(tagOf("dup")).slice(0, 3) });
    const ids = made.models.map((m) => m.metadata!.id);
    const repeated = [ids[0]!, ids[1]!, ids[2]!, ids[1]!];
    for (const allowPartial of [false, true]) {
      const error = await c.batchDeleteModels({ ids: repeated, allowPartial }).then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
      expect(error?.code, `allowPartial=${allowPartial}`).toBe(Code.InvalidArgument);
      expect(error!.findDetails(BadRequestSchema).flatMap((d) => d.fieldViolations.map((v) => v.field))).toEqual(["ids[3]"]);
      expect(error!.rawMessage).toContain("ids[1]");
      const res = await fetch(`${service.url}/v1/models:batchDelete`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ ids: repeated, allowPartial }),
      });
      const status = (await res.json()) as { details?: Array<{ fieldViolations?: Array<{ field: string }> }> };
      expect(res.status).toBe(400);
      expect(status.details?.[0]?.fieldViolations?.map((v) => v.field)).toEqual(["ids[3]"]);
    }
    for (const id of ids) expect((await c.getModel({ id })).metadata!.deleteTime).toBeUndefined();
    // BatchUpdateModels: a second write of the same model in the batch's one transaction is named, not Aborted.
    const update = (description: string) => ({ id: ids[0]!, model: { spec: { description } }, updateMask: { paths: ["spec.description"] } });
    const atomic = await c.batchUpdateModels({ requests: [update("first"), update("second")] }).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(atomic?.code).toBe(Code.InvalidArgument);
    expect(atomic!.findDetails(BadRequestSchema).flatMap((d) => d.fieldViolations.map((v) => v.field))).toEqual(["requests[1].id"]);
    expect((await c.getModel({ id: ids[0]! })).spec!.description).toBeUndefined();
    const partial = await c.batchUpdateModels({ requests: [update("first"), update("second")], allowPartial: true });
    expect(partial.results[0]!.result.case).toBe("model");
    expect(partial.results[1]!.result.case === "status" && partial.results[1]!.result.value.code).toBe(Code.InvalidArgument);
    expect((await c.getModel({ id: ids[0]! })).spec!.description).toBe("first");
    // Without the repeat, the same batch deletes them.
    const deleted = await c.batchDeleteModels({ ids });
    expect(deleted.models.every((m) => m.metadata!.deleteTime !== undefined)).toBe(true);
  });
});
