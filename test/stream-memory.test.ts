import { readFileSync } from "node:fs";
import { constants as http2Constants, connect as connectHttp2, type ClientHttp2Session } from "node:http2";
import { afterAll, describe, expect, it } from "vitest";
import { startServerProcess, type ServerProcess } from "./support/server-process.js";

/**
 * Issue #14, item 2, against the server as its own process with the heap cap
 * of the report: 100 HTTP/2 connections × 100 unauthenticated streams that
 * each send part of a large declared body and then stall. Every stalled
 * stream must end (answered Unauthenticated from its headers, or reset by the
 * request timeout), and the server must stay small and keep answering.
 */

const requestTimeoutMs = 2_000;
const connections = 100;
const listModels = "/modelservice.v1.ModelService/ListModels";
/** Peak resident memory the server may reach during the attack. */
const rssLimitBytes = 300 * 1024 * 1024;

function h2Session(url: string): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = connectHttp2(url);
    session.once("error", reject);
    session.once("remoteSettings", () => {
      session.off("error", reject);
      // A reset stream or a closing server must not throw in the test process.
      session.on("error", () => undefined);
      resolve(session);
    });
  });
}

interface Stalled {
  status: string;
  grpcStatus: string;
  rstCode: number;
}

/** Sends the headers and the first part of the body, never the rest; resolves when the stream ends, however it ends. */
function stall(session: ClientHttp2Session, headers: Record<string, string>, part: Uint8Array): Promise<Stalled> {
  return new Promise((resolve) => {
    const stream = session.request({ ":method": "POST", ":path": listModels, ...headers }, { endStream: false });
    let status = "";
    let grpcStatus = "";
    stream.on("response", (h) => {
      status = String(h[":status"]);
      grpcStatus = String(h["grpc-status"] ?? "");
    });
    stream.on("trailers", (t) => (grpcStatus = String(t["grpc-status"] ?? grpcStatus)));
    stream.on("data", () => undefined);
    stream.on("error", () => undefined);
    stream.on("close", () => resolve({ status, grpcStatus, rstCode: stream.rstCode ?? 0 }));
    stream.write(part);
  });
}

/** A kB value from the server's /proc/<pid>/status (VmRSS, VmHWM), in bytes. */
function procStatus(pid: number, field: string): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${field}:`));
  if (!line) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(/(\d+)\s*kB/.exec(line)![1]) * 1024;
}

function sample(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

describe("item 2: stalled HTTP/2 streams against a server capped at 160 MB", () => {
  let server: ServerProcess | undefined;
  const sessions: ClientHttp2Session[] = [];

  afterAll(async () => {
    for (const session of sessions) session.destroy();
    await server?.dispose();
  });

  it("100 connections × 100 unauthenticated streams with stalled bodies all end, and the server stays small and answers", async () => {
    server = await startServerProcess({
      nodeArgs: ["--max-old-space-size=160"],
      env: { MODELSERVICE_REQUEST_TIMEOUT_MS: String(requestTimeoutMs), MODELSERVICE_HEADERS_TIMEOUT_MS: "1000" },
    });
    const pid = server.proc.pid!;
    const url = server.url;

    for (let i = 0; i < connections; i++) sessions.push(await h2Session(url));
    const streamsPerConnection = Math.min(100, sessions[0]!.remoteSettings.maxConcurrentStreams ?? 100);

    // gRPC: an envelope that declares 4 MB, then 8 kB of it. Connect JSON: a 4 MB content-length, then 8 kB of it.
    const grpcPart = Buffer.concat([Buffer.from([0, 0, 0x40, 0, 0]), Buffer.alloc(8 * 1024, 0x0a)]);
    const jsonPart = Buffer.from(`{"filter":"${"x".repeat(8 * 1024)}`);
    const grpc = { "content-type": "application/grpc", te: "trailers" };
    const json = { "content-type": "application/json", "connect-protocol-version": "1", "content-length": String(4 * 1024 * 1024) };
    const streams = sessions.flatMap((session, s) =>
      Array.from({ length: streamsPerConnection }, (_, i) => ((s + i) % 2 === 0 ? stall(session, grpc, grpcPart) : stall(session, json, jsonPart))),
    );

    // Every stream must end: wait for all, but give up well after the request timeout so a stream that never ends fails the test.
    let closed = 0;
    for (const stream of streams) void stream.then(() => closed++);
    const giveUp = new Promise<"gave up">((resolve) => setTimeout(() => resolve("gave up"), requestTimeoutMs + 15_000).unref());
    const ended = await Promise.race([Promise.all(streams), giveUp]);
    expect(server.proc.exitCode ?? server.proc.signalCode, server.output().slice(-1500)).toBeNull();
    expect(closed, `streams ended of ${streams.length}`).toBe(streams.length);
    const outcomes = ended as Stalled[];

    // Each stream was answered Unauthenticated at once, refused over MODELSERVICE_MAX_OPEN_STREAMS, or reset when its request timed out.
    const unauthenticated = outcomes.filter((o) => o.grpcStatus === "16" || o.status === "401").length;
    const refused = outcomes.filter((o) => o.rstCode === http2Constants.NGHTTP2_REFUSED_STREAM).length;
    const reset = outcomes.length - unauthenticated - refused;
    const metrics = await (await fetch(`${url}/metrics`)).text();
    const timeouts = sample(metrics, "modelservice_stream_timeouts_total");
    expect(sample(metrics, "modelservice_refused_streams_total")).toBe(refused);
    const unexplained = outcomes.find((o) => o.grpcStatus !== "16" && o.status !== "401" && o.rstCode !== http2Constants.NGHTTP2_REFUSED_STREAM);
    expect(unauthenticated + refused + Math.min(reset, timeouts), JSON.stringify(unexplained)).toBe(outcomes.length);

    // The server is small and answers: the health probe and an authenticated call, while the attack's connections are still open.
    expect(procStatus(pid, "VmHWM"), `peak RSS; now ${procStatus(pid, "VmRSS")} bytes`).toBeLessThan(rssLimitBytes);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const list = await fetch(`${url}${listModels}`, {
      method: "POST",
      headers: { authorization: `Bearer ${await server.token("ws_stream_memory")}`, "content-type": "application/json" },
      body: JSON.stringify({ limit: 1 }),
    });
    expect(list.status, await list.clone().text()).toBe(200);
    expect(await list.json()).toHaveProperty("items");
  }, 60_000);
});
