import { brotliCompressSync, gzipSync } from "node:zlib";
import { ScalarType, type DescField, type DescMessage, type DescMethod } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { Code, ConnectError } from "@connectrpc/connect";
import { errorFromJsonBytes } from "@connectrpc/connect/protocol-connect";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BadRequestSchema } from "../gen/google/rpc/error_details_pb.js";
import { ModelService } from "../gen/modelservice/v1/model_service_pb.js";
import { modelCsvColumns } from "../src/proto/model-csv-columns.js";
import { httpBindings, type HttpBinding } from "../src/wire/rest/http-rules.js";
import { startTestService, type TestService } from "./support/service.js";
import { openTestDatabase, type TestDatabase } from "./support/test-database.js";

/**
 * Property-based fuzzing of every RPC over Connect JSON and of every REST
 * route: random and adversarial input must never produce a 5xx or a hang,
 * errors keep their wire format, and a refused request never writes to the
 * database.
 *
 * Two write detectors watch the database through a read-only connection of
 * its own: `PRAGMA data_version`, which moves on any commit by the service
 * (checked around every refused request of every property), and a digest of
 * the content of every table (before and after a run of refused mutations).
 */

// ---------------------------------------------------------------------------
// Harness

const ws = "ws_fuzz";
const wsRefused = "ws_fuzz_refused";
const timeoutMs = 5000;
/**
 * A fixed seed keeps `npm test` repeatable; hunt for more with another
 * FUZZ_SEED ("random" for a fresh one) and a larger FUZZ_SCALE (run count multiplier).
 */
const runs = (n: number) => ({
  numRuns: Math.ceil(n * Number(process.env.FUZZ_SCALE ?? 1)),
  seed: process.env.FUZZ_SEED === "random" ? undefined : Number(process.env.FUZZ_SEED ?? 20261122),
});
const statusCounts = new Map<string, number>();

let service: TestService;
let token: string;
let tokenRefused: string;
/** A second connection on the service's database: the write detectors. */
let db: TestDatabase;
/** Real ids of the fuzz workspace (models, a system model, a draft), so some requests reach deep code. */
let realIds: string[] = [];

interface Answer {
  status: number;
  contentType: string;
  bytes: Buffer;
  text: string;
}

async function send(method: string, path: string, init: { body?: string | Uint8Array; headers?: Record<string, string>; auth?: string } = {}): Promise<Answer> {
  const res = await fetch(service.url + path, {
    method,
    headers: { authorization: `Bearer ${init.auth ?? token}`, ...init.headers },
    body: init.body,
    signal: AbortSignal.timeout(timeoutMs),
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  if (process.env.FUZZ_STATS) {
    const key = `${method} ${path.split("?")[0]!.replace(/^\/v1\/workspaces\/[^/]*/, "/v1/W").replace(/\/(models|drafts|bundles)\/[^/:]+/, "/$1/ID").slice(0, 80)} ${res.status}`;
    statusCounts.set(key, (statusCounts.get(key) ?? 0) + 1);
  }
  return { status: res.status, contentType: res.headers.get("content-type") ?? "", bytes, text: bytes.toString("utf8") };
}

function label(what: unknown): string {
  const text = typeof what === "string" ? what : what instanceof Uint8Array ? `bytes ${Buffer.from(what).toString("hex")}` : JSON.stringify(what);
  return (text ?? String(what)).slice(0, 400);
}

/** Runs a request; a refused one (anything but 200) must not have committed a write. */
async function refusedWritesNothing(request: () => Promise<Answer>, refused: (a: Answer) => boolean = (a) => a.status !== 200): Promise<Answer> {
  const before = await db.writeMark();
  const answer = await request();
  if (refused(answer)) expect(await db.writeMark(), `a refused request (HTTP ${answer.status}) committed a write: ${answer.text.slice(0, 300)}`).toBe(before);
  return answer;
}

function parseJson(text: string, context: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new Error(`${context}: body is not JSON: ${text.slice(0, 200)}`);
  }
}

/** A Connect unary answer: below 500; 200 with a JSON object, or a Connect error with a string code. */
function expectConnectUnary(a: Answer, context: string): void {
  expect(a.status, `${context} → ${a.text.slice(0, 300)}`).toBeLessThan(500);
  const body = parseJson(a.text, context) as Record<string, unknown>;
  expect(typeof body, context).toBe("object");
  if (a.status !== 200) {
    expect(typeof body.code, `${context} → ${a.text.slice(0, 300)}`).toBe("string");
    expect(body.code, context).not.toMatch(/^(internal|unknown|data_loss|unavailable|unimplemented)$/);
  }
}

function envelope(flags: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + data.byteLength);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, data.byteLength);
  out.set(data, 5);
  return out;
}

/** A Connect server-streaming answer: below 500; on 200, whole envelopes ending in an end-stream message. Returns true when refused. */
function expectConnectStream(a: Answer, context: string): boolean {
  expect(a.status, `${context} → ${a.text.slice(0, 300)}`).toBeLessThan(500);
  if (a.status !== 200) {
    const body = parseJson(a.text, context) as Record<string, unknown>;
    expect(typeof body.code, context).toBe("string");
    return true;
  }
  let offset = 0;
  let end: Record<string, unknown> | undefined;
  while (offset < a.bytes.length) {
    expect(a.bytes.length - offset, `${context}: truncated envelope`).toBeGreaterThanOrEqual(5);
    const flags = a.bytes[offset]!;
    const length = a.bytes.readUInt32BE(offset + 1);
    const data = a.bytes.subarray(offset + 5, offset + 5 + length);
    expect(data.length, `${context}: truncated envelope`).toBe(length);
    offset += 5 + length;
    if ((flags & 2) === 2) {
      end = parseJson(data.toString("utf8"), context) as Record<string, unknown>;
      expect(offset, `${context}: data after end-stream`).toBe(a.bytes.length);
    } else {
      parseJson(data.toString("utf8"), context);
    }
  }
  expect(end, `${context}: no end-stream message`).toBeDefined();
  const error = end!.error as { code?: unknown } | undefined;
  if (error) {
    expect(typeof error.code, context).toBe("string");
    expect(error.code, `${context} → ${JSON.stringify(error)}`).not.toMatch(/^(internal|unknown|data_loss|unavailable|unimplemented)$/);
  }
  return error !== undefined;
}

/** A REST answer: below 500; 200 with JSON (CSV for the export), or a google.rpc.Status with a numeric code. */
function expectRest(a: Answer, binding: HttpBinding, context: string): void {
  expect(a.status, `${context} → ${a.text.slice(0, 300)}`).toBeLessThan(500);
  if (a.status === 200) {
    if (binding.method.name === "ExportModels") expect(a.contentType, context).toMatch(/^text\/csv/);
    // WatchModels: Server-Sent Events, ended by the deadline the fuzzer gives it.
    else if (binding.method.name === "WatchModels") expect(a.text, context).toMatch(/^(id: \S+\n)?data: \{/);
    else expect(typeof parseJson(a.text, context), context).toBe("object");
    return;
  }
  expect(a.contentType, `${context} → HTTP ${a.status} ${a.text.slice(0, 200)}`).toMatch(/^application\/json/);
  const body = parseJson(a.text, context) as Record<string, unknown>;
  expect(typeof body.code, `${context} → ${a.text.slice(0, 300)}`).toBe("number");
  expect(body.code, context).not.toBe(0);
}

// ---------------------------------------------------------------------------
// Adversarial values

const huge = "x".repeat(100_000);
const hugeUnicode = "é😀".repeat(5_000);
function deepArray(levels: number): unknown {
  let v: unknown = "bottom";
  for (let i = 0; i < levels; i++) v = [v];
  return v;
}
function deepObject(levels: number, key: string): unknown {
  let v: unknown = "bottom";
  for (let i = 0; i < levels; i++) v = { [key]: v };
  return v;
}

const specialStrings = [
  "",
  " ",
  "\u0000",
  "a\u0000b",
  "\u0000' OR 1=1 --",
  "../../etc/passwd",
  "..\\..\\windows\\win.ini",
  "/etc/passwd",
  "..",
  ".",
  "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
  "' OR 1=1 --",
  "' OR '1'='1",
  '" OR ""="',
  "'; DROP TABLE models; --",
  "1; DELETE FROM models",
  "') UNION SELECT * FROM sqlite_master --",
  "%",
  "_",
  "%_%",
  "\\",
  "\\%",
  "*",
  "?",
  "'",
  '"',
  "`",
  "[",
  "]",
  "^",
  "$",
  "{}",
  "[]",
  "null",
  "true",
  "NaN",
  "Infinity",
  "-0",
  "1e308",
  "-1",
  "9223372036854775808",
  "__proto__",
  "constructor",
  "toString",
  "名前",
  "😀",
  "👩‍👩‍👧‍👦",
  "\uD800",
  "\uDFFF",
  "a\uD800b",
  "\uDBFF\uDFFF",
  "\u202Eevil",
  "\uFEFF",
  "\r\n",
  "a,b\r\n\"c\"",
  "=cmd|' /C calc'!A0",
  "<script>alert(1)</script>",
  "model_01ARZ3NDEKTSV4RRFFQ69G5FAV",
  "model_",
  "MODEL_STATUS_ENABLED",
  "MODEL_STATUS_SLEEPING",
  "env=prod,team=ai",
  "=",
  ",,,",
  "a=b=c",
  "https://example.com/v1",
  "http://127.0.0.1/x",
  "bedrock://anthropic.claude",
  "file:///etc/passwd",
  "javascript:alert(1)",
  "0.075",
  "-0.01",
  "1e-7",
  "99999999999999999999.99",
  huge,
  hugeUnicode,
];

/** Strings for places inside a URL (kept under node's 16 KiB header limit). */
const urlSpecialStrings = specialStrings.filter((s) => s.length < 2000).concat(["x".repeat(3000)]);

const sqlFragments = ["' OR 1=1 --", "'; DROP TABLE models; --", "%", "_", "\\", "' || '", "\" OR \"\"=\"", "*/", "/*", "%00", "\u0000"];

function stringArb(special: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...special) },
    { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
    { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 40 }) },
    { weight: 2, arbitrary: fc.tuple(fc.string({ maxLength: 8 }), fc.constantFrom(...sqlFragments), fc.string({ maxLength: 8 })).map((p) => p.join("")) },
  );
}
const adversarialString = stringArb(specialStrings);
const urlString = stringArb(urlSpecialStrings);

const weirdNumbers = [0, -1, 1, 2 ** 31 - 1, 2 ** 31, -(2 ** 31), -(2 ** 31) - 1, 2 ** 32, 2 ** 53 + 1, -(2 ** 53) - 1, 2 ** 63, 1e308, -1e308, 1.5, -0.5, 5e-324, 1000, 1001];
const weirdNumberStrings = ["1", "-1", "1e3", "0x10", " 1", "1 ", "1.0", "1.5", "", "NaN", "Infinity", "-Infinity", "9223372036854775807", "-9223372036854775808", "9223372036854775808", "18446744073709551616", "99999999999999999999999999", "+1", "01", "١"];
const numberArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...weirdNumbers) },
  { weight: 2, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
  { weight: 2, arbitrary: fc.constantFrom<unknown>(...weirdNumberStrings) },
);

/** Any value: a wrong type for most fields. */
const wildValue: fc.Arbitrary<unknown> = fc.oneof(
  adversarialString,
  numberArb,
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom(deepArray(1000), deepObject(1000, "a"), [], {}, [null], { "": "" }),
  fc.jsonValue({ maxDepth: 3 }),
  fc.array(adversarialString, { maxLength: 3 }),
);

/**
 * How a generated message looks: JSON or proto field names; hostile (wrong
 * types, unknown enum values, out-of-range numbers, unknown keys) or
 * well-typed (right JSON types with adversarial content, so that requests get
 * past decoding into validation, the domain and SQL).
 */
interface Mode {
  style: "json" | "proto";
  hostile: boolean;
}
const modeArb = fc.record({ style: fc.constantFrom<Mode["style"]>("json", "proto"), hostile: fc.boolean() });

function enumArb(field: DescField, mode: Mode): fc.Arbitrary<unknown> {
  const e = field.fieldKind === "enum" ? field.enum : field.fieldKind === "list" && field.listKind === "enum" ? field.enum : undefined;
  const names = e?.values.map((v) => v.name) ?? [];
  const known = fc.constantFrom<unknown>(...(names.length > 0 ? names : ["X"]), ...e?.values.map((v) => v.number) ?? []);
  if (!mode.hostile) return known;
  return fc.oneof(
    { weight: 4, arbitrary: known },
    { weight: 2, arbitrary: fc.constantFrom<unknown>("MODEL_STATUS_SLEEPING", "modelStatusEnabled", "model_status_enabled", "", 99, -1, 2 ** 31, 1.5, "1", "0", null, true) },
  );
}

function scalarArb(scalar: ScalarType, name: string, mode: Mode): fc.Arbitrary<unknown> {
  switch (scalar) {
    case ScalarType.STRING:
      if (/(^id$|Id$|^ids$)/.test(name) && realIds.length > 0) {
        return fc.oneof({ weight: mode.hostile ? 1 : 3, arbitrary: fc.constantFrom(...realIds) }, { weight: 2, arbitrary: adversarialString });
      }
      if (name === "workspaceId" && !mode.hostile) return fc.oneof({ weight: 3, arbitrary: fc.constant(ws) }, { weight: 1, arbitrary: adversarialString });
      return adversarialString;
    case ScalarType.BOOL:
      return mode.hostile ? fc.oneof({ weight: 4, arbitrary: fc.boolean() }, { weight: 1, arbitrary: fc.constantFrom<unknown>("true", 0, 1, null, "yes") }) : fc.boolean();
    case ScalarType.BYTES:
      return fc.oneof(fc.uint8Array({ maxLength: 32 }).map((b) => Buffer.from(b).toString("base64")), adversarialString);
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      if (!mode.hostile) return fc.oneof(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String), fc.constantFrom(0, -1, 1, 300, 2 ** 53 - 1));
      return numberArb;
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      if (!mode.hostile) return fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String);
      return numberArb;
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      if (!mode.hostile) return fc.constantFrom(0, 1, 2 ** 32 - 1);
      return numberArb;
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      if (!mode.hostile) return fc.double({ noNaN: true, noDefaultInfinity: true });
      return numberArb;
    default:
      if (!mode.hostile) return fc.oneof(fc.constantFrom(0, -1, 1, 1000, 1001, 2 ** 31 - 1, -(2 ** 31)), fc.integer());
      return numberArb;
  }
}

const timestampStrings = ["1970-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z", "10000-01-01T00:00:00Z", "2020-13-45T99:99:99Z", "2020-01-01", "2020-01-01T00:00:00+25:00", ""];
const maskStrings = ["*", "spec.family,metadata.labels", "spec.credentials", "metadata.id", "metadata.name", "spec", "spec.status", "spec.credentials.token", "spec..family", ",", "__proto__", "spec.fooBar", "SPEC.FAMILY", "spec.visible", "metadata.etag", "metadata.labels.env", "spec.capabilities", "spec.modelUrl"];

const maxDepth = 4;
/** Fields without which a request is refused before it gets anywhere. */
const essentialFields = new Set(["id", "model", "requests", "models", "ids", "credentials", "bundleKey", "csv", "metadata", "contentType", "data", "expectedVersion"]);

function fieldArb(field: DescField, depth: number, mode: Mode): fc.Arbitrary<unknown> {
  const typed = ((): fc.Arbitrary<unknown> => {
    switch (field.fieldKind) {
      case "scalar":
        return scalarArb(field.scalar, field.jsonName, mode);
      case "enum":
        return enumArb(field, mode);
      case "message":
        return messageArb(field.message, depth + 1, mode);
      case "list": {
        const element =
          field.listKind === "scalar"
            ? scalarArb(field.scalar, field.jsonName, mode)
            : field.listKind === "enum"
              ? enumArb(field, mode)
              : messageArb(field.message, depth + 1, mode);
        return fc.array(element, { maxLength: 3 });
      }
      case "map":
        return fc.dictionary(
          fc.oneof(adversarialString, fc.constantFrom("env", "team")),
          field.mapKind === "scalar" ? scalarArb(field.scalar, "", mode) : mode.hostile ? wildValue : fc.constant({}),
          { maxKeys: 3 },
        );
    }
  })();
  return mode.hostile ? fc.oneof({ weight: 6, arbitrary: typed }, { weight: 1, arbitrary: wildValue }) : typed;
}

/** Objects whose keys are the message's real field names, with adversarial values (see Mode). */
function messageArb(message: DescMessage, depth: number, mode: Mode): fc.Arbitrary<unknown> {
  switch (message.typeName) {
    case "google.protobuf.Timestamp":
      return mode.hostile ? fc.oneof(fc.constantFrom(...timestampStrings), adversarialString) : fc.constantFrom(...timestampStrings.slice(0, 3));
    case "google.protobuf.FieldMask":
      return fc.oneof(
        fc.constantFrom(...maskStrings),
        fc.array(fc.constantFrom(...maskStrings), { maxLength: 3 }).map((p) => p.join(",")),
        ...(mode.hostile ? [adversarialString] : []),
      );
    case "google.api.HttpBody":
      return fc.record(
        {
          contentType: fc.oneof(fc.constantFrom("text/csv", "application/json", "text/csv; charset=latin1"), adversarialString),
          data: fc.oneof(csvArb.map((t) => Buffer.from(t).toString("base64")), ...(mode.hostile ? [adversarialString] : [])),
        },
        { requiredKeys: [] },
      );
  }
  if (depth > maxDepth) return mode.hostile ? fc.constantFrom({}, null, "deep") : fc.constant({});
  const name = (f: DescField) => (mode.style === "json" ? f.jsonName : f.name);
  if (!mode.hostile) {
    if (message.typeName === "modelservice.v1.Model") return nearValidModel;
    // The fields a request needs, and a few more, so that the others cannot refuse it first.
    const needed = message.fields.filter((f) => essentialFields.has(f.jsonName));
    const others = message.fields.filter((f) => !essentialFields.has(f.jsonName));
    return fc
      .subarray(others, { maxLength: Math.min(2, others.length) })
      .chain((fields) => fc.record(Object.fromEntries([...needed, ...fields].map((f) => [name(f), fieldArb(f, depth, mode)]))));
  }
  const shape: Record<string, fc.Arbitrary<unknown>> = {};
  for (const f of message.fields) shape[name(f)] = fieldArb(f, depth, mode);
  const record = fc.record(shape, { requiredKeys: [] });
  return fc.oneof(
    { weight: 8, arbitrary: record },
    { weight: 1, arbitrary: fc.tuple(record, adversarialString, wildValue).map(([o, k, v]) => ({ ...(o as object), [k]: v })) },
  );
}

/** A valid custom model with adversarial content in one to three of its text fields. */
const nearValidModel: fc.Arbitrary<unknown> = fc
  .subarray(["name", "externalId", "bundleKey", "labels", "family", "provider", "description", "modelUrl", "inputPricePerMillionTokensUsd", "token"] as const, { maxLength: 2 })
  .chain((keys) => fc.record({
      name: adversarialString,
      externalId: adversarialString,
      bundleKey: adversarialString,
      labels: fc.dictionary(adversarialString, adversarialString, { minKeys: 1, maxKeys: 2 }),
      family: adversarialString,
      provider: adversarialString,
      description: adversarialString,
      modelUrl: fc.oneof(adversarialString, fc.constantFrom("https://example.com/%00", "https://a/../../etc/passwd", "bedrock://' OR 1=1 --")),
      inputPricePerMillionTokensUsd: fc.constantFrom("0.075", "-1", "1e308", "99999999999999999999.99", "0.0000001", "NaN", "' OR 1=1 --"),
      token: adversarialString,
    }).map((all) => Object.fromEntries(keys.map((k) => [k, all[k]])) as Partial<typeof all>))
  .chain((o) => fc.nat().map((n) => ({ o, n })))
  .map(({ o, n }) => ({
    metadata: {
      name: o.name ?? `Fuzz ${n}`,
      labels: o.labels ?? { team: "fuzz" },
      ...(o.externalId !== undefined ? { externalId: o.externalId } : {}),
      ...(o.bundleKey !== undefined ? { bundleKey: o.bundleKey } : {}),
    },
    spec: {
      family: o.family ?? `fuzz-${n}`,
      provider: o.provider ?? "acme",
      description: o.description ?? "fuzz",
      modelUrl: o.modelUrl ?? "https://llm.example.com/v1/chat",
      ...(o.inputPricePerMillionTokensUsd !== undefined ? { inputPricePerMillionTokensUsd: o.inputPricePerMillionTokensUsd } : { inputPricePerMillionTokens: "250" }),
      maxInputTokens: 128000,
      credentials: { token: o.token ?? "tok-fuzz" },
    },
  }));

/** CSV for ImportModels: the real header (or part of it, or junk) and rows of adversarial cells. */
const csvCell = fc.oneof(
  urlString.map((s) => (/[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s)),
  fc.constantFrom("", "MODEL_STATUS_ENABLED", "1.5", "-1", "1e308", "\"unterminated", "a\"b", "env=prod", "VISION|TOOL_CALLING", "true"),
);
const csvArb: fc.Arbitrary<string> = fc
  .tuple(
    fc.oneof(
      { weight: 3, arbitrary: fc.subarray([...modelCsvColumns], { minLength: 1 }) },
      { weight: 1, arbitrary: fc.array(fc.oneof(fc.constantFrom(...modelCsvColumns), urlString), { minLength: 1, maxLength: 6 }) },
    ),
    fc.nat({ max: 4 }),
    fc.constantFrom("\r\n", "\n"),
  )
  .chain(([header, rows, eol]) =>
    fc
      .array(fc.array(csvCell, { minLength: Math.max(0, header.length - 1), maxLength: header.length + 1 }), { minLength: rows, maxLength: rows })
      .map((cells) => [header.join(","), ...cells.map((r) => r.join(","))].join(eol)),
  );

/** Request bodies for Connect: raw text that is not (quite) JSON. */
const rawTexts = [
  "",
  " ",
  "{",
  "}",
  "{status:",
  "[]",
  "null",
  "1",
  '"x"',
  "{}garbage",
  '{"a":1e999}',
  '{"limit":1e999}',
  '{"limit":-0}',
  '{"limit":1.0}',
  '{"id":"\\ud800"}',
  '{"id":"\\u0000"}',
  '{"__proto__":{"polluted":true}}',
  '{"constructor":{"prototype":{"polluted":true}}}',
  "\u0000",
  "\uFEFF{}",
  '{"id":"a","id":"b"}',
  "[".repeat(100_000) + "]".repeat(100_000),
  '{"a":'.repeat(50_000) + "1" + "}".repeat(50_000),
  '{"model":'.repeat(20_000) + "{}" + "}".repeat(20_000),
];
const invalidUtf8 = [
  [0xff],
  [0xfe, 0xff],
  [0xc3, 0x28],
  [0xc0, 0xaf],
  [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [...Buffer.from('{"id":"'), 0xff, 0xfe, ...Buffer.from('"}')],
  [...Buffer.from('{"name":"'), 0xc3, ...Buffer.from('"}')],
].map((b) => Uint8Array.from(b));

type Body = { kind: "json"; value: unknown } | { kind: "text"; value: string } | { kind: "bytes"; value: Uint8Array };

function bodyArb(method: DescMethod): fc.Arbitrary<Body> {
  const json = (a: fc.Arbitrary<unknown>) => a.map((value): Body => ({ kind: "json", value }));
  return fc.oneof(
    { weight: 6, arbitrary: json(modeArb.chain((mode) => messageArb(method.input, 0, mode))) },
    { weight: 2, arbitrary: json(fc.json({ maxDepth: 4 }).map((t) => JSON.parse(t) as unknown)) },
    { weight: 1, arbitrary: json(wildValue) },
    {
      weight: 1,
      arbitrary: json(
        fc.constantFrom(...method.input.fields.map((f) => f.jsonName), "x").map((k) => ({ [k]: deepObject(1000, method.input.fields[0]?.jsonName ?? "a") })),
      ),
    },
    { weight: 1, arbitrary: fc.oneof(fc.constantFrom(...rawTexts), fc.string({ unit: "binary", maxLength: 60 })).map((value): Body => ({ kind: "text", value })) },
    { weight: 1, arbitrary: fc.oneof(fc.constantFrom(...invalidUtf8), fc.uint8Array({ maxLength: 64 })).map((value): Body => ({ kind: "bytes", value })) },
  );
}

function bodyBytes(body: Body): string | Uint8Array {
  return body.kind === "json" ? (JSON.stringify(body.value) ?? "null") : body.value;
}

// ---------------------------------------------------------------------------

beforeAll(async () => {
  service = await startTestService();
  token = await service.token(ws);
  tokenRefused = await service.token(wsRefused);
  db = openTestDatabase(service.database, { readonly: true });
  // Seed both workspaces before any write detector runs.
  const list = JSON.parse((await send("GET", "/v1/models?limit=5")).text) as { items: Array<{ metadata: { id: string } }> };
  await send("GET", "/v1/models?limit=1", { auth: tokenRefused });
  const system = JSON.parse((await send("GET", "/v1/system/models?limit=1")).text) as { items: Array<{ metadata: { id: string } }> };
  const draft = JSON.parse((await send("POST", "/v1/drafts", { body: "{}", headers: { "content-type": "application/json" } })).text) as { id: string };
  realIds = [...list.items.map((m) => m.metadata.id), ...system.items.map((m) => m.metadata.id), draft.id].filter((id) => typeof id === "string");
  expect(realIds.length).toBeGreaterThanOrEqual(3);
});
afterAll(async () => {
  if (process.env.FUZZ_STATS) console.log([...statusCounts].sort().map(([k, n]) => `${k}: ${n}`).join("\n"));
  await db?.close();
  await service?.dispose();
});

const methods = ModelService.methods;
const bindings = httpBindings([ModelService]);
const readOnly = (m: DescMethod) => m.idempotency === 1; // NO_SIDE_EFFECTS

describe("the write detectors", () => {
  it("see a write the service commits", async () => {
    const version = await db.writeMark();
    const digest = await db.contentDigest();
    const a = await send("POST", "/v1/drafts", { body: "{}", headers: { "content-type": "application/json" } });
    expect(a.status, a.text).toBe(200);
    expect(await db.writeMark()).not.toBe(version);
    expect(await db.contentDigest()).not.toBe(digest);
  });
});

describe("Connect JSON: every RPC", () => {
  it("walks every method", () => {
    expect(methods.length).toBeGreaterThanOrEqual(28);
  });

  it.each(methods.map((m) => [m.name, m] as const))("%s: random and adversarial bodies never 5xx, hang or write when refused", async (_name, method) => {
    const path = `/modelservice.v1.ModelService/${method.name}`;
    const streaming = method.methodKind === "server_streaming";
    await fc.assert(
      fc.asyncProperty(bodyArb(method), async (body) => {
        const context = `${method.name} ${body.kind} ${label(body.value)}`;
        if (!streaming) {
          const a = await refusedWritesNothing(() =>
            send("POST", path, { body: bodyBytes(body), headers: { "content-type": "application/json", "connect-protocol-version": "1" } }),
          );
          expectConnectUnary(a, context);
          return;
        }
        const raw = bodyBytes(body);
        const data = typeof raw === "string" ? Buffer.from(raw) : raw;
        const a = await refusedWritesNothing(
          () =>
            send("POST", path, {
              body: envelope(0, data),
              // A watch that is accepted never ends by itself: its deadline ends it.
              headers: { "content-type": "application/connect+json", "connect-protocol-version": "1", ...(method.name === "WatchModels" ? { "connect-timeout-ms": "300" } : {}) },
            }),
          (x) => x.status !== 200 || x.bytes.includes(Buffer.from('"error"')),
        );
        expectConnectStream(a, context);
      }),
      runs(45),
    );
  });

  it("ExportModels: malformed envelopes never 5xx or hang", async () => {
    const path = "/modelservice.v1.ModelService/ExportModels";
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 16 }),
          fc.constantFrom(
            Uint8Array.from([0, 0, 0, 0]),
            Uint8Array.from([0, 0xff, 0xff, 0xff, 0xff, 0x7b]),
            Uint8Array.from([1, 0, 0, 0, 2, 0x7b, 0x7d]),
            Uint8Array.from([2, 0, 0, 0, 2, 0x7b, 0x7d]),
            Uint8Array.from([0, 0, 0, 0, 2, 0x7b, 0x7d, 0, 0, 0, 0, 2, 0x7b, 0x7d]),
            Uint8Array.from([0, 0, 0, 0, 9, 0x7b, 0x7d]),
          ),
        ),
        fc.constantFrom("application/connect+json", "application/connect+proto", "application/connect+xml"),
        async (bytes, contentType) => {
          const a = await send("POST", path, { body: bytes, headers: { "content-type": contentType, "connect-protocol-version": "1" } });
          expect(a.status, `${contentType} ${label(bytes)} → ${a.text.slice(0, 200)}`).toBeLessThan(500);
        },
      ),
      runs(40),
    );
  });

  it("compressed, truncated and mislabelled bodies and bad protocol headers never 5xx", async () => {
    const json = new TextEncoder().encode('{"limit":1}');
    const compressed = fc.constantFrom<[string, Uint8Array]>(
      ["gzip", gzipSync(json)],
      ["gzip", gzipSync(json).subarray(0, 10)], // truncated: zlib says Z_BUF_ERROR, not Z_DATA_ERROR
      ["gzip", gzipSync(json).subarray(0, gzipSync(json).length - 4)],
      ["gzip", json],
      ["gzip", new Uint8Array()],
      ["gzip", gzipSync(Buffer.alloc(8 * 1024 * 1024, 0x20))], // a bomb: 8 MiB from ~8 KiB
      ["br", brotliCompressSync(json)],
      ["br", brotliCompressSync(json).subarray(0, 3)],
      ["br", json],
      ["identity", json],
      ["zstd", json],
      ["gzip, br", json],
    );
    const headers = fc.record(
      {
        "connect-timeout-ms": fc.constantFrom("-1", "0", "1", "abc", "99999999999999999999", "1e3", ""),
        "connect-protocol-version": fc.constantFrom("1", "2", "", "0"),
      },
      { requiredKeys: [] },
    );
    const method = fc.constantFrom("ListModels", "GetModel", "CreateModel", "BatchDeleteModels", "ExportModels");
    await fc.assert(
      fc.asyncProperty(method, compressed, headers, async (name, [encoding, data], extra) => {
        const streaming = name === "ExportModels";
        const context = `${name} ${encoding} ${label(data)} ${JSON.stringify(extra)}`;
        const a = await refusedWritesNothing(
          () =>
            send("POST", `/modelservice.v1.ModelService/${name}`, {
              body: streaming ? envelope(encoding === "identity" ? 0 : 1, data) : data,
              headers: streaming
                ? { "content-type": "application/connect+json", "connect-content-encoding": encoding, "connect-accept-encoding": "identity", ...extra }
                : { "content-type": "application/json", "content-encoding": encoding, ...extra },
            }),
          (x) => x.status !== 200 || x.bytes.includes(Buffer.from('"error"')),
        );
        // The Connect protocol answers an encoding the server does not support with Unimplemented (HTTP 501), naming the ones it does.
        if (!/^(gzip|br|identity)$/.test(encoding)) {
          expect(a.status, `${context} → ${a.text.slice(0, 200)}`).toBe(streaming ? 200 : 501);
          expect(a.text, context).toContain('"code":"unimplemented"');
        } else if (a.status === 504 && /^[01]$/.test(extra["connect-timeout-ms"] ?? "")) {
          // A deadline of 0 or 1 ms is one the server may well miss: that answer is the caller's, not a server fault.
          expect(JSON.parse(a.text), context).toMatchObject({ code: "deadline_exceeded" });
        } else if (streaming) expectConnectStream(a, context);
        else expectConnectUnary(a, context);
      }),
      runs(60),
    );
  });

  it("Connect GET of the side-effect-free RPCs: adversarial messages never 5xx", async () => {
    const getMethods = methods.filter((m) => readOnly(m) && m.methodKind === "unary");
    expect(getMethods.length).toBeGreaterThanOrEqual(5);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...getMethods).chain((m) =>
          fc.tuple(fc.constant(m), fc.oneof(modeArb.chain((mode) => messageArb(m.input, 0, mode)).map((v) => JSON.stringify(v) ?? "null"), fc.constantFrom(...rawTexts.filter((t) => t.length < 1000)))),
        ),
        fc.constantFrom("json", "proto", "xml"),
        async ([m, message], encoding) => {
          if (message.length > 8000) return;
          const query = new URLSearchParams({ connect: "v1", encoding, message }).toString();
          const a = await refusedWritesNothing(() => send("GET", `/modelservice.v1.ModelService/${m.name}?${query}`));
          expect(a.status, `${m.name} ${encoding} ${label(message)} → ${a.text.slice(0, 200)}`).toBeLessThan(500);
        },
      ),
      runs(50),
    );
  });
});

// ---------------------------------------------------------------------------
// Connect GET parameters and binary bodies with unknown fields

/** The service still answers: health, and a ListModels read. */
async function expectStillAnswering(context: string): Promise<void> {
  expect((await send("GET", "/healthz")).status, context).toBe(200);
  const list = await send("POST", "/modelservice.v1.ModelService/ListModels", { body: '{"limit":1}', headers: { "content-type": "application/json" } });
  expect(list.status, `${context} → ListModels ${list.text.slice(0, 200)}`).toBe(200);
}

const base64Texts = ["!!!", "====", "=", "a", "ab=", "abc", "a=b", "AAAA", "AAA=", "AA==", "-_-_", "+/+/", "%%%", " A A A A", "\u0000", "é", "😀"];

/** A Connect GET message parameter: JSON, binary as base64 (standard, URL-safe, unpadded), compressed, or junk. */
const getMessageArb: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...base64Texts),
  fc.constantFrom('{"limit":1}', "{}", "", '{"status":"MODEL_STATUS_DISABLD"}', '{"limitt":1}', ...rawTexts.filter((t) => t.length < 200)),
  fc.uint8Array({ maxLength: 48 }).chain((b) =>
    fc.constantFrom(
      Buffer.from(b).toString("base64"),
      Buffer.from(b).toString("base64url"),
      Buffer.from(b).toString("base64").replace(/=+$/, ""),
      Buffer.from(gzipSync(b)).toString("base64url"),
      Buffer.from(b).toString("latin1"),
    ),
  ),
  fc.string({ unit: "binary", maxLength: 60 }),
);

/** Protobuf binary fields the request messages do not declare: well-formed of every wire type, and broken ones. */
const unknownFieldArb: fc.Arbitrary<Uint8Array> = fc
  .tuple(fc.oneof(fc.constant(1000), fc.integer({ min: 64, max: 536_870_911 })), fc.integer({ min: 0, max: 7 }), fc.uint8Array({ maxLength: 64 }))
  .map(([fieldNo, wireType, payload]) => {
    const tag = new BinaryWriter().uint32(((fieldNo << 3) | wireType) >>> 0).finish();
    switch (wireType) {
      case WireType.Varint:
        return Buffer.concat([tag, new BinaryWriter().uint64(BigInt(payload.length) * 1_000_003n).finish()]);
      case WireType.Bit64:
        return Buffer.concat([tag, Buffer.alloc(8, payload[0] ?? 0)]);
      case WireType.LengthDelimited:
        return Buffer.concat([tag, new BinaryWriter().bytes(payload).finish()]);
      case WireType.Bit32:
        return Buffer.concat([tag, Buffer.alloc(4, payload[0] ?? 0)]);
      default:
        // Groups without their end, ends without a start, wire types 6 and 7, truncated payloads.
        return Buffer.concat([tag, payload]);
    }
  });

describe("Connect GET parameters and binary bodies with unknown fields", () => {
  it("Connect GET: any message, encoding, base64, compression and connect parameters never 5xx or Internal", async () => {
    const getMethods = methods.filter((m) => readOnly(m) && m.methodKind === "unary");
    const optional = (values: fc.Arbitrary<string>) => fc.option(values, { nil: undefined });
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...getMethods),
        fc.record({
          message: optional(getMessageArb),
          encoding: optional(fc.oneof(fc.constantFrom("json", "proto", "xml", "", "JSON", "proto;x=1"), fc.string({ maxLength: 8 }))),
          base64: optional(fc.oneof(fc.constantFrom("1", "0", "", "true", "2"), fc.string({ maxLength: 4 }))),
          compression: optional(fc.oneof(fc.constantFrom("gzip", "br", "identity", "zstd", "", "gzip,br"), fc.string({ maxLength: 8 }))),
          connect: optional(fc.oneof(fc.constantFrom("v1", "v2", "", "1"), fc.string({ maxLength: 4 }))),
        }),
        async (m, params) => {
          const query = new URLSearchParams(Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined)).toString();
          const context = `GET ${m.name}?${query.slice(0, 300)}`;
          const a = await refusedWritesNothing(() => send("GET", `/modelservice.v1.ModelService/${m.name}?${query}`));
          if (a.status === 415) return; // an encoding Connect does not know: Unsupported Media Type, as the protocol says
          if (a.status === 501) {
            // A compression it does not know: Unimplemented naming the ones it does, as the protocol says.
            expect(params.compression, context).not.toMatch(/^(gzip|br|identity)$/);
            expect(a.text, context).toContain('"code":"unimplemented"');
            return;
          }
          if (a.status === 200 && params.encoding === "proto") return; // a binary answer, as asked; errors are JSON whatever the encoding
          expectConnectUnary(a, context);
        },
      ),
      runs(150),
    );
    await expectStillAnswering("after the Connect GET run");
  });

  it("binary bodies with unknown fields: ignored when well-formed, InvalidArgument when broken, never 5xx or Internal", async () => {
    const unary = methods.filter((m) => m.methodKind === "unary");
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...unary), fc.array(unknownFieldArb, { minLength: 1, maxLength: 4 }), fc.boolean(), async (m, unknown, first) => {
        const known = m.name === "ListModels" ? Uint8Array.from([0x18, 0x01]) : new Uint8Array(); // ListModels: limit = 1
        const body = Buffer.concat(first ? [...unknown, known] : [known, ...unknown]);
        const context = `${m.name} ${label(body)}`;
        const a = await refusedWritesNothing(() =>
          send("POST", `/modelservice.v1.ModelService/${m.name}`, { body, headers: { "content-type": "application/proto", "connect-protocol-version": "1" } }),
        );
        expect(a.status, `${context} → ${a.text.slice(0, 300)}`).toBeLessThan(500);
        if (a.status !== 200) {
          const error = errorFromJsonBytes(a.bytes, undefined, new ConnectError("not a Connect error", Code.Unknown));
          expect(error.code, `${context} → ${a.text.slice(0, 300)}`).not.toBe(Code.Internal);
          expect(error.code, `${context} → ${a.text.slice(0, 300)}`).not.toBe(Code.Unknown);
        }
      }),
      runs(120),
    );
    // ListModels with well-formed unknown fields is the plain ListModels.
    const withUnknown = Buffer.concat([Uint8Array.from([0x18, 0x01]), new BinaryWriter().tag(1000, WireType.LengthDelimited).bytes(Buffer.alloc(1024, 7)).finish()]);
    const a = await send("POST", "/modelservice.v1.ModelService/ListModels", { body: withUnknown, headers: { "content-type": "application/proto" } });
    expect(a.status, a.text.slice(0, 200)).toBe(200);
    await expectStillAnswering("after the binary run");
  });
});

// ---------------------------------------------------------------------------
// REST

function queryKeys(binding: HttpBinding): string[] {
  const keys = ["colour", "__proto__", "constructor", "toString", "hasOwnProperty", "", "a.b.c", "id.x", "model.__proto__", "model.metadata.name", "model.spec.status", "pagination.total"];
  for (const f of binding.method.input.fields) {
    keys.push(f.jsonName, f.name);
    if (f.fieldKind === "message") for (const g of f.message.fields) keys.push(`${f.jsonName}.${g.jsonName}`, `${f.name}.${g.name}`);
  }
  return keys;
}

/** encodeURIComponent, with lone surrogates (which it refuses) as U+FFFD, as a browser would send them. */
function encodeSegment(s: string): string {
  return encodeURIComponent(s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, "\uFFFD"));
}

const segmentArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: urlString.map(encodeSegment) },
  { weight: 1, arbitrary: fc.constantFrom("..", "%2e%2e", "%2F", "%00", "%ZZ", "%", "%E0%A4%A", "%C0%AF", "%FF", "a%2Fb", ";", "x:enable", "*") },
  { weight: 1, arbitrary: fc.constantFrom(ws, wsRefused, "ws_other") },
);

function restBodyArb(binding: HttpBinding): fc.Arbitrary<{ body?: string | Uint8Array; contentType?: string }> {
  if (binding.body === "") {
    // fetch sends no body with GET; DELETE may carry one the route does not take.
    return binding.httpMethod === "GET" ? fc.constant({}) : fc.oneof(fc.constant({}), fc.constant({ body: "{}", contentType: "application/json" }));
  }
  const contentType = fc.oneof(
    { weight: 6, arbitrary: fc.constant("application/json") },
    { weight: 1, arbitrary: fc.constantFrom("application/json; charset=utf-8", "text/plain", "text/csv", "application/x-www-form-urlencoded", "", "application/jsonx", "APPLICATION/JSON") },
  );
  const input = binding.method.input;
  const field = input.fields.find((f) => f.name === binding.body);
  if (field?.fieldKind === "message" && field.message.typeName === "google.api.HttpBody") {
    return fc.record({
      body: fc.oneof(
        { weight: 4, arbitrary: csvArb },
        { weight: 1, arbitrary: fc.constantFrom(...invalidUtf8) },
        { weight: 1, arbitrary: fc.constantFrom(huge, "\u0000", '"', "a,b\n\"c") },
      ),
      contentType: fc.constantFrom("text/csv", "text/csv; charset=utf-8", "application/json", "application/octet-stream", ""),
    });
  }
  const value = fc.boolean().chain((hostile) => {
    const mode: Mode = { style: "json", hostile };
    return binding.body === "*" ? messageArb(input, 0, mode) : field?.fieldKind === "message" ? messageArb(field.message, 1, mode) : wildValue;
  });
  return fc.oneof(
    { weight: 6, arbitrary: fc.record({ body: value.map((v) => JSON.stringify(v) ?? "null"), contentType }) },
    { weight: 1, arbitrary: fc.record({ body: fc.constantFrom(...rawTexts), contentType }) },
    { weight: 1, arbitrary: fc.record({ body: fc.constantFrom(...invalidUtf8), contentType }) },
  );
}

describe("REST: every binding", () => {
  it("has the bindings of every RPC", () => {
    expect(new Set(bindings.map((b) => b.method.name)).size).toBe(methods.length);
  });

  it.each(bindings.map((b) => [`${b.httpMethod} ${b.template.text}`, b] as const))(
    "%s: adversarial path segments, query parameters and bodies never 5xx, hang or write when refused",
    async (_name, binding) => {
      const keys = queryKeys(binding);
      await fc.assert(
        fc.asyncProperty(
          fc.array(segmentArb, { minLength: binding.template.variables.length, maxLength: binding.template.variables.length }),
          fc.array(fc.tuple(fc.constantFrom(...keys), fc.oneof(urlString, fc.constantFrom(...weirdNumberStrings, "MODEL_STATUS_DISABLED", "MODEL_STATUS_SLEEPING", "desc", "true"))), {
            maxLength: 3,
          }),
          restBodyArb(binding),
          async (segments, query, { body, contentType }) => {
            let i = 0;
            const path = binding.template.text.replace(/\{[^}]*\}/g, () => segments[i++]!);
            const qs = new URLSearchParams(query).toString();
            const url = qs === "" ? path : `${path}?${qs}`;
            const context = `${binding.httpMethod} ${url.slice(0, 300)} ${label(body)}`;
            const a = await refusedWritesNothing(() =>
              send(binding.httpMethod, url, {
                body,
                headers: {
                  ...(contentType !== undefined && body !== undefined ? { "content-type": contentType } : {}),
                  // A watch that is accepted never ends by itself: its deadline ends it.
                  ...(binding.method.name === "WatchModels" ? { "connect-timeout-ms": "300" } : {}),
                },
              }),
            );
            expectRest(a, binding, context);
          },
        ),
        runs(25),
      );
    },
  );

  it("a path over node's header limit is refused by node (431), never a 5xx", async () => {
    const a = await send("GET", `/v1/models/${"x".repeat(100_000)}`);
    expect(a.status).toBe(431);
  });
});

// ---------------------------------------------------------------------------
// Filters and ordering

const filterFields = [
  "metadata.name",
  "name",
  "provider",
  "spec.provider",
  "spec.family",
  "family",
  "status",
  "spec.status",
  "labels.env",
  "metadata.labels.team",
  'labels."a b"',
  "labels.'x'",
  "spec.maxInputTokens",
  "spec.maxOutputTokens",
  "spec.inputPricePerMillionTokens",
  "spec.cachedInputPricePerMillionTokens",
  "metadata.createdAt",
  "metadata.updatedAt",
  "metadata.externalId",
  "metadata.bundleKey",
  "metadata.origin",
  "spec.capabilities",
  "spec.hasToken",
  "spec.modelUrl",
  "spec.description",
  "bogus",
  "spec",
  "labels",
  "metadata",
  "spec.credentials.token",
  "id",
  "rowid",
  "models.id",
  "1",
];
const filterOps = ["=", "!=", "<", "<=", ">", ">=", ":", "==", "~", " = ", ""];

const quoted = adversarialString.filter((s) => s.length < 200).map((s) => `"${s.replace(/["\\]/g, "\\$&")}"`);
const filterValue = fc.oneof(
  quoted,
  fc.constantFrom(...sqlFragments).map((s) => `"${s.replace(/["\\]/g, "\\$&")}"`),
  fc.constantFrom(...sqlFragments).map((s) => `'${s}'`),
  fc.constantFrom("anthropic", "gpt-4.1", "MODEL_STATUS_ENABLED", "MODEL_CAPABILITY_VISION", "VISION", "true", "false", "*", '"*"', '"a*b"', '"\\*"', "0", "-1", "128000", "1.5", "99999999999999999999999999", "1e308", "-", '"2024-01-01T00:00:00Z"', '"not a time"', "NULL", '"', "'", ""),
);
const { filterExpr } = fc.letrec<{ filterExpr: string; restriction: string }>((tie) => ({
  restriction: fc.tuple(fc.constantFrom(...filterFields), fc.constantFrom(...filterOps), filterValue).map(([f, op, v]) => `${f}${op}${v}`),
  filterExpr: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    tie("restriction"),
    fc.tuple(tie("filterExpr"), tie("filterExpr")).map(([a, b]) => `${a} AND ${b}`),
    fc.tuple(tie("filterExpr"), tie("filterExpr")).map(([a, b]) => `${a} OR ${b}`),
    fc.tuple(tie("filterExpr"), tie("filterExpr")).map(([a, b]) => `${a} ${b}`),
    tie("filterExpr").map((a) => `NOT ${a}`),
    tie("filterExpr").map((a) => `-${a}`),
    tie("filterExpr").map((a) => `(${a})`),
    tie("filterExpr").map((a) => `${a})`),
    tie("filterExpr").map((a) => `(${a}`),
  ),
}));
const filterArb = fc.oneof(
  { weight: 5, arbitrary: filterExpr },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 60 }) },
  { weight: 1, arbitrary: fc.constantFrom("(".repeat(3000), "NOT ".repeat(600) + "name=x", "-".repeat(2000) + "name=x", Array(70).fill("name=x").join(" AND "), "a".repeat(3000), "name=\"" + "x".repeat(2040) + "\"", "name=x\u0000", "name=\"\uD800\"") },
);
const orderArb = fc.oneof(
  { weight: 4, arbitrary: fc.array(fc.tuple(fc.constantFrom(...filterFields), fc.constantFrom("", " asc", " desc", " DESC", " sideways", "; DROP TABLE models", " desc desc")).map(([f, d]) => f + d), { minLength: 1, maxLength: 4 }).map((t) => t.join(", ")) },
  { weight: 2, arbitrary: adversarialString.filter((s) => s.length < 3000) },
  { weight: 1, arbitrary: fc.constantFrom(",", " ", "metadata.name,", ",metadata.name", "spec.inputPricePerMillionTokens desc, metadata.name", "labels.env", "name ".repeat(600)) },
);

function violationFields(body: { details?: Array<{ fieldViolations?: Array<{ field: string }> }> }): string[] {
  return (body.details ?? []).flatMap((d) => d.fieldViolations ?? []).map((v) => v.field);
}

describe("filter and orderBy", () => {
  it("REST ListModels: 200 or 400 naming filter/orderBy", async () => {
    await fc.assert(
      fc.asyncProperty(fc.option(filterArb, { nil: undefined }), fc.option(orderArb, { nil: undefined }), fc.boolean(), async (filter, orderBy, snake) => {
        const q = new URLSearchParams();
        if (filter !== undefined) q.set("filter", filter);
        if (orderBy !== undefined) q.set(snake ? "order_by" : "orderBy", orderBy);
        const context = `filter=${label(filter)} orderBy=${label(orderBy)}`;
        const a = await refusedWritesNothing(() => send("GET", `/v1/models?${q}`));
        expect([200, 400], `${context} → ${a.text.slice(0, 300)}`).toContain(a.status);
        const body = parseJson(a.text, context) as { code?: number; details?: Array<{ fieldViolations?: Array<{ field: string }> }> };
        if (a.status === 400) {
          expect(body.code).toBe(Code.InvalidArgument);
          const fields = violationFields(body);
          expect(fields.length, `${context} → ${a.text.slice(0, 300)}`).toBeGreaterThan(0);
          for (const f of fields) expect(["filter", "orderBy"], `${context} → ${a.text.slice(0, 300)}`).toContain(f);
        }
      }),
      runs(120),
    );
  });

  it("Connect ListModels and REST ExportModels: 200 or InvalidArgument naming filter/orderBy", async () => {
    await fc.assert(
      fc.asyncProperty(filterArb, fc.option(orderArb, { nil: undefined }), async (filter, orderBy) => {
        const context = `filter=${label(filter)} orderBy=${label(orderBy)}`;
        const a = await refusedWritesNothing(() =>
          send("POST", "/modelservice.v1.ModelService/ListModels", {
            body: JSON.stringify({ filter, orderBy, showDeleted: true, includeFacets: true }),
            headers: { "content-type": "application/json" },
          }),
        );
        expectConnectUnary(a, context);
        if (a.status !== 200) {
          const error = errorFromJsonBytes(a.bytes, undefined, new ConnectError("?"));
          expect(error.code, context).toBe(Code.InvalidArgument);
          const fields = error.findDetails(BadRequestSchema).flatMap((d) => d.fieldViolations.map((v) => v.field));
          // connect-node's own JSON decoding (e.g. a lone surrogate: "invalid UTF8") names the field in its message only.
          if (fields.length === 0) expect(error.rawMessage, `${context} → ${a.text.slice(0, 300)}`).toMatch(/ListModelsRequest\.(filter|order_by)\b/);
          for (const f of fields) expect(["filter", "orderBy"], context).toContain(f);
        }
        const exp = await send("GET", `/v1/models:export?${new URLSearchParams({ filter })}`);
        expect([200, 400], `export ${context} → ${exp.text.slice(0, 300)}`).toContain(exp.status);
        if (exp.status === 400) expect(violationFields(parseJson(exp.text, context) as never), context).toEqual(["filter"]);
      }),
      runs(80),
    );
  });
});

// ---------------------------------------------------------------------------
// Database unchanged by refused mutations

/**
 * One ingredient that makes a request invalid for sure, whatever the rest of
 * it is. (An unknown field is no such ingredient: Connect JSON ignores unknown
 * fields, as connect-es does by default for forward compatibility.)
 */
type Spoiler = "notAnObject" | "missingId" | "otherWorkspace" | "wrongType";

function spoil(method: DescMethod, body: Record<string, unknown>, spoiler: Spoiler, badId: string): unknown {
  const names = new Set(method.input.fields.map((f) => f.jsonName));
  const out = { ...body };
  // Proto-named duplicates of the spoiled fields would bypass the spoiler.
  for (const f of method.input.fields) if (f.name !== f.jsonName) delete out[f.name];
  const first = method.input.fields[0];
  if (spoiler === "missingId" && names.has("id")) out.id = badId;
  else if (spoiler === "otherWorkspace" && names.has("workspaceId")) out.workspaceId = "ws_other";
  // A number is no message, and an object is no scalar, enum, list or string map.
  else if (spoiler === "wrongType" && first) out[first.jsonName] = first.fieldKind === "message" ? 5 : { not: ["a", "scalar"] };
  else return [out];
  return out;
}

describe("refused requests leave the database unchanged", () => {
  it("a run of refused mutations over Connect and REST leaves every table as it was", async () => {
    const mutating = methods.filter((m) => !readOnly(m) && m.methodKind === "unary");
    expect(mutating.length).toBeGreaterThanOrEqual(20);
    const mutatingBindings = bindings.filter((b) => b.httpMethod !== "GET");
    const badId = fc.oneof(fc.constantFrom("model_01ARZ3NDEKTSV4RRFFQ69G5FAV", "draft_01ARZ3NDEKTSV4RRFFQ69G5FAV", "../../etc/passwd", "' OR 1=1 --", "%", "_", "\u0000", "😀"), adversarialString.filter((s) => s !== ""));
    const before = await db.contentDigest();
    const versionBefore = await db.writeMark();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...mutating).chain((m) => fc.tuple(fc.constant(m), modeArb.chain((mode) => messageArb(m.input, 0, mode)), fc.constantFrom<Spoiler>("notAnObject", "missingId", "otherWorkspace", "wrongType"), badId)),
        async ([method, body, spoiler, id]) => {
          const request = spoil(method, typeof body === "object" && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : {}, spoiler, id);
          const a = await send("POST", `/modelservice.v1.ModelService/${method.name}`, {
            auth: tokenRefused,
            body: JSON.stringify(request),
            headers: { "content-type": "application/json" },
          });
          const context = `${method.name} ${spoiler} ${label(request)}`;
          expectConnectUnary(a, context);
          expect(a.status, `${context} was not refused: ${a.text.slice(0, 300)}`).not.toBe(200);
          expect(await db.writeMark(), `${context} committed a write`).toBe(versionBefore);
        },
      ),
      runs(150),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...mutatingBindings), fc.constantFrom("model_01ARZ3NDEKTSV4RRFFQ69G5FAV", "..%2F..%2Fetc%2Fpasswd", "'%20OR%201%3D1%20--", "%25", "_"), fc.boolean(), async (binding, segment, unknownQuery) => {
        const path = binding.template.text.replace("{workspace_id}", wsRefused).replace("{id}", segment).replace("{bundle_key}", segment);
        // Routes without an id (creates, batches, imports, refresh) are spoiled by an unknown query parameter.
        const spoilQuery = unknownQuery || !binding.template.text.includes("{id}");
        const url = spoilQuery ? `${path}?fuzzUnknown=1` : path;
        const a = await send(binding.httpMethod, url, {
          auth: tokenRefused,
          body: binding.body === "" ? undefined : binding.body === "csv" ? "name\r\nx\r\n" : "{}",
          headers: binding.body === "" ? {} : { "content-type": binding.body === "csv" ? "text/csv" : "application/json" },
        });
        expectRest(a, binding, `${binding.httpMethod} ${url}`);
        expect(a.status, `${binding.httpMethod} ${url} was not refused: ${a.text.slice(0, 300)}`).not.toBe(200);
        expect(await db.writeMark(), `${binding.httpMethod} ${url} committed a write`).toBe(versionBefore);
      }),
      runs(60),
    );
    expect(await db.contentDigest()).toBe(before);
  });
});
