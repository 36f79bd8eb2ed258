import { fromJson, toJson, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { readFileSync } from "node:fs";
import { ModelCapability } from "../../../gen/modelservice/v1/model_pb.js";
import { ModalitiesSchema, ModelLifecycleSchema, ReasoningSupportSchema, TemperatureSupportSchema } from "../../../gen/modelservice/v1/pricing_pb.js";

/** What the overlay adds to one catalog model: facts the price package lacks. */
export interface OverlayFacts {
  displayName?: string;
  maxOutputTokens?: number;
  /** ModelCapability enum names. */
  capabilities?: string[];
  /** Proto JSON of ModelLifecycle, Modalities, ReasoningSupport, TemperatureSupport. */
  lifecycle?: JsonObject;
  modalities?: JsonObject;
  reasoning?: JsonObject;
  temperature?: JsonObject;
}

interface OverlayFile {
  sources: Record<string, { url?: unknown; date?: unknown }>;
  models: Record<string, Record<string, { value?: JsonValue; source?: unknown }>>;
}

const int32Max = 2 ** 31 - 1;

/** Each fact's check, turning the file's value into the overlay's (throws on a bad one). */
const facts: { [K in keyof OverlayFacts]-?: (value: JsonValue) => OverlayFacts[K] } = {
  displayName: (v) => {
    if (typeof v !== "string" || v.trim() === "") throw new Error("must be a non-empty string");
    return v;
  },
  maxOutputTokens: (v) => {
    if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > int32Max) throw new Error("must be a positive int32");
    return v;
  },
  capabilities: (v) => {
    if (!Array.isArray(v)) throw new Error("must be a list");
    return v.map((c) => {
      const known = typeof c === "string" ? (ModelCapability as Record<string, unknown>)[c.replace(/^MODEL_CAPABILITY_/, "")] : undefined;
      if (typeof known !== "number" || known === ModelCapability.UNSPECIFIED) throw new Error(`unknown capability ${JSON.stringify(c)}`);
      return c as string;
    });
  },
  // Read through the proto, so a value the API could not carry fails the build.
  lifecycle: (v) => toJson(ModelLifecycleSchema, fromJson(ModelLifecycleSchema, v)) as JsonObject,
  modalities: (v) => toJson(ModalitiesSchema, fromJson(ModalitiesSchema, v)) as JsonObject,
  reasoning: (v) => toJson(ReasoningSupportSchema, fromJson(ReasoningSupportSchema, v)) as JsonObject,
  temperature: (v) => toJson(TemperatureSupportSchema, fromJson(TemperatureSupportSchema, v)) as JsonObject,
};

function isFact(name: string): name is keyof OverlayFacts {
  return Object.hasOwn(facts, name);
}

/**
 * Checks the overlay: every value must name a source with an https URL and a
 * date (YYYY-MM-DD), and be a value the API can carry. Throws naming the
 * model and fact otherwise, so a bad overlay never ships.
 */
export function checkOverlay(file: OverlayFile): Map<string, OverlayFacts> {
  const out = new Map<string, OverlayFacts>();
  for (const [key, entry] of Object.entries(file.models)) {
    const model: OverlayFacts = {};
    for (const [name, fact] of Object.entries(entry)) {
      const where = `catalog overlay "${key}" ${name}`;
      if (!isFact(name)) throw new Error(`${where}: not a fact the overlay can hold`);
      const source = typeof fact.source === "string" ? file.sources[fact.source] : undefined;
      if (!source || typeof source.url !== "string" || !/^https:\/\//.test(source.url)) throw new Error(`${where}: no source URL`);
      if (typeof source.date !== "string" || !/^\d{4}-\d{2}-\d{2}$/.test(source.date)) throw new Error(`${where}: no source date`);
      if (fact.value === undefined) throw new Error(`${where}: no value`);
      try {
        (model as Record<string, unknown>)[name] = facts[name](fact.value);
      } catch (e) {
        throw new Error(`${where}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    out.set(key, model);
  }
  return out;
}

/** The overlay file beside this module (the build copies it). */
const overlayFile = new URL("./catalog-overlay.json", import.meta.url);

let loaded: Map<string, OverlayFacts> | undefined;

/** The checked overlay, keyed by "<package provider>/<package model id>". */
export function catalogOverlay(): Map<string, OverlayFacts> {
  loaded ??= checkOverlay(JSON.parse(readFileSync(overlayFile, "utf8")) as OverlayFile);
  return loaded;
}
