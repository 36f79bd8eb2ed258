import { peakRss, type ServerProcess } from "./processes.js";
import { fixed } from "./stats.js";

/** Streams GET /v1/models:export of a workspace, counting rows and sampling the server's memory. */
export async function benchExport(server: ServerProcess, token: string): Promise<{ markdown: string; peakMiB: number }> {
  const started = performance.now();
  const { result, before, peak } = await peakRss(server.pid, async () => {
    const res = await fetch(`${server.url}/v1/models:export`, { headers: { authorization: `Bearer ${token}` } });
    if (!res.ok) throw new Error(`export: HTTP ${res.status} ${await res.text()}`);
    let bytes = 0;
    let rows = -1; // the header line
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      bytes += chunk.byteLength;
      for (const b of chunk) if (b === 10) rows++;
    }
    return { bytes, rows };
  });
  const seconds = (performance.now() - started) / 1000;
  const markdown = [
    `### Export`,
    ``,
    `| models | CSV | time | rows/s | server RSS before → peak |`,
    `|---:|---:|---:|---:|---:|`,
    `| ${fixed(result.rows)} | ${(result.bytes / 1048576).toFixed(1)} MiB | ${seconds.toFixed(1)} s | ${fixed(result.rows / seconds)} | ${before.toFixed(0)} → ${peak.toFixed(0)} MiB (+${(peak - before).toFixed(0)} MiB) |`,
  ].join("\n");
  return { markdown, peakMiB: peak };
}
