import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { ModelCapability, ModelOrigin, type Model } from "../../../gen/modelservice/v1/model_pb.js";
import { dateTime, dollars, tokenCount } from "../format.js";

const capabilityNames: Record<ModelCapability, string> = {
  [ModelCapability.UNSPECIFIED]: "Unspecified",
  [ModelCapability.VISION]: "Vision (image input)",
  [ModelCapability.TOOL_CALLING]: "Tool calling",
  [ModelCapability.REASONING]: "Reasoning",
  [ModelCapability.PROMPT_CACHING]: "Prompt caching",
};

const when = (t: Timestamp | undefined) => (t === undefined ? undefined : dateTime(timestampDate(t)));

const notSet = "Not set";
const price = (usd: string | undefined, cents: bigint | undefined) => (usd === undefined && cents === undefined ? notSet : `${dollars(usd, cents)} per million tokens`);
const tokens = (n: number | undefined) => (n === undefined ? notSet : `${tokenCount(n)} tokens`);

function originText(m: Model): string {
  if (m.metadata?.origin === ModelOrigin.WORKSPACE) return "Custom: created by this workspace";
  return m.metadata?.workspaceId ? "Platform catalog: this workspace's copy of a system model" : "System model of the platform";
}

/**
 * Everything the service says about a model, read-only: where it comes from,
 * its capabilities and every price, its times and etag. Empty facts are left out.
 */
export function ModelFacts({ model: m }: { model: Model }) {
  const md = m.metadata;
  const s = m.spec;
  const capabilities = s?.capabilities.filter((c) => c !== ModelCapability.UNSPECIFIED).map((c) => capabilityNames[c] ?? `Capability ${c}`) ?? [];
  const facts: Array<[string, string | undefined]> = [
    ["ID", md?.id],
    ["Origin", originText(m)],
    ["Catalog ID", md?.catalogId],
    ["External ID", md?.externalId],
    ["Bundle", md?.bundleKey],
    ["Capabilities", capabilities.length === 0 ? "None listed" : capabilities.join(", ")],
    ["Input price", price(s?.inputPricePerMillionTokensUsd, s?.inputPricePerMillionTokens)],
    ["Cached input price", price(s?.cachedInputPricePerMillionTokensUsd, s?.cachedInputPricePerMillionTokens)],
    ["Output price", price(s?.outputPricePerMillionTokensUsd, s?.outputPricePerMillionTokens)],
    ["Context window", tokens(s?.maxInputTokens)],
    ["Max output", tokens(s?.maxOutputTokens)],
    ["Not usable because", s?.disabledReason],
    ["Visible to workspaces", s?.visible === undefined ? undefined : s.visible ? "Yes" : "No (hidden)"],
    ["Workspace", md?.workspaceId || undefined],
    ["Account", md?.accountId || undefined],
    ["Created", when(md?.createdAt)],
    ["Created by", md?.profileId || undefined],
    ["Updated", when(md?.updatedAt)],
    ["Deleted", when(md?.deleteTime)],
    ["Removed for good after", when(md?.purgeTime)],
    ["ETag", md?.etag || undefined],
  ];
  return (
    <dl class="facts" aria-label="Facts about the model">
      {facts
        .filter((f): f is [string, string] => f[1] !== undefined && f[1] !== "")
        .map(([term, value]) => (
          <div key={term}>
            <dt>{term}</dt>
            <dd>{value}</dd>
          </div>
        ))}
    </dl>
  );
}
