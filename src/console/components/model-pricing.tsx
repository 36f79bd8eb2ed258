import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { Model } from "../../../gen/modelservice/v1/model_pb.js";
import { LifecycleStage, type TokenPrices } from "../../../gen/modelservice/v1/pricing_pb.js";
import { dateTime, tokenCount } from "../format.js";

/** The price components in the order a price list shows them, with their unit. */
const components: Array<[Exclude<keyof TokenPrices, "$typeName" | "$unknown">, string]> = [
  ["inputUsdPerMtok", "Input"],
  ["outputUsdPerMtok", "Output"],
  ["cacheReadUsdPerMtok", "Cache read"],
  ["cacheWrite5mUsdPerMtok", "Cache write (5 min)"],
  ["cacheWrite1hUsdPerMtok", "Cache write (1 hour)"],
  ["reasoningOutputUsdPerMtok", "Reasoning output"],
  ["audioInputUsdPerMtok", "Audio input"],
  ["audioOutputUsdPerMtok", "Audio output"],
  ["imageInputUsdPerMtok", "Image input"],
  ["imageOutputUsdPerMtok", "Image output"],
  ["webSearchUsdPerK", "Web searches (per 1,000)"],
];

const stageNames: Record<LifecycleStage, string> = {
  [LifecycleStage.UNSPECIFIED]: "Unknown",
  [LifecycleStage.PREVIEW]: "Preview",
  [LifecycleStage.GA]: "Generally available",
  [LifecycleStage.DEPRECATED]: "Deprecated",
  [LifecycleStage.RETIRED]: "Retired",
};

const when = (t: Timestamp | undefined) => (t === undefined ? undefined : dateTime(timestampDate(t)));
const usd = (price: string | undefined) => (price === undefined ? "—" : `$${price}`);

/**
 * A model's prices as the catalog has them: every component of the base tier
 * and each context tier (per million tokens unless said), the dated history,
 * its lifecycle and where the figures come from. Nothing shown when unknown.
 */
export function ModelPricing({ model }: { model: Model }) {
  const s = model.spec;
  const pricing = s?.pricing;
  const tiers = pricing?.contextTiers ?? [];
  const shown = components.filter(([key]) => pricing?.base?.[key] !== undefined || tiers.some((t) => t.prices?.[key] !== undefined));
  const lifecycle = s?.lifecycle;
  const source = s?.source;
  return (
    <div class="pricing">
      {shown.length > 0 && (
        <table aria-label="Prices in US dollars per million tokens">
          <thead>
            <tr>
              <th scope="col">Component</th>
              <th scope="col">Base</th>
              {tiers.map((t) => (
                <th scope="col" key={String(t.aboveInputTokens)}>
                  Above {tokenCount(Number(t.aboveInputTokens))} input tokens
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {shown.map(([key, label]) => (
              <tr key={key}>
                <th scope="row">{label}</th>
                <td>{usd(pricing?.base?.[key])}</td>
                {tiers.map((t) => (
                  <td key={String(t.aboveInputTokens)}>{usd(t.prices?.[key] ?? pricing?.base?.[key])}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {(s?.priceHistory.length ?? 0) > 0 && (
        <ol aria-label="Price history">
          {s!.priceHistory.map((h, i) => (
            <li key={i}>
              {h.effectiveFrom ? `From ${when(h.effectiveFrom)}` : "Originally"}: input {usd(h.pricing?.base?.inputUsdPerMtok)}, output{" "}
              {usd(h.pricing?.base?.outputUsdPerMtok)}
            </li>
          ))}
        </ol>
      )}
      <dl class="facts" aria-label="Lifecycle and source">
        {lifecycle && (
          <div>
            <dt>Lifecycle</dt>
            <dd>
              {[
                stageNames[lifecycle.stage] ?? `Stage ${lifecycle.stage}`,
                lifecycle.deprecatedAt && `deprecated ${when(lifecycle.deprecatedAt)}`,
                lifecycle.retiresAt && `retires ${when(lifecycle.retiresAt)}`,
                lifecycle.replacement && `replaced by ${lifecycle.replacement}`,
              ]
                .filter(Boolean)
                .join(", ")}
            </dd>
          </div>
        )}
        {source && (
          <div>
            <dt>Source</dt>
            <dd>
              <a href={source.url} rel="noreferrer noopener" target="_blank">
                {source.url}
              </a>{" "}
              ({source.dataVersion}
              {source.retrievedAt ? `, retrieved ${when(source.retrievedAt)}` : ""})
            </dd>
          </div>
        )}
      </dl>
    </div>
  );
}
