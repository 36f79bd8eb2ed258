/**
 * Catalog ids of the hand-kept catalog this data source replaced, by the
 * package entry ("<provider>/<model id>") each became. A system model keeps
 * its catalog id for good, so these entries keep the old id: the existing
 * system models and their workspace copies are updated in place (same model
 * ids, statuses and labels), and callers that name the old id still find them.
 * Old entries with no counterpart here are retired by the first refresh.
 */
export const legacyCatalogIds: ReadonlyMap<string, string> = new Map([
  ["anthropic/claude-opus-4-8", "anthropic/claude-opus-4.8"],
  ["anthropic/claude-opus-4-7", "anthropic/claude-opus-4.7"],
  ["anthropic/claude-opus-4-6", "anthropic/claude-opus-4.6"],
  ["anthropic/claude-opus-4-5", "anthropic/claude-opus-4.5"],
  ["anthropic/claude-sonnet-4-6", "anthropic/claude-sonnet-4.6"],
  ["anthropic/claude-sonnet-4-5", "anthropic/claude-sonnet-4.5"],
  ["anthropic/claude-haiku-4-5", "anthropic/claude-haiku-4.5"],
  ["aws/meta.llama4-maverick-17b-instruct-v1:0", "meta/llama-4-maverick-17b-instruct"],
  ["aws/meta.llama4-scout-17b-instruct-v1:0", "meta/llama-4-scout-17b-instruct"],
  ["aws/meta.llama3-3-70b-instruct-v1:0", "meta/llama-3.3-70b-instruct"],
  ["aws/meta.llama3-1-8b-instruct-v1:0", "meta/llama-3.1-8b-instruct"],
  ["mistral/mistral-large-2512", "mistral/mistral-large-3"],
  ["mistral/mistral-medium-3-5", "mistral/mistral-medium-3.5"],
  ["mistral/mistral-small-3.2-24b-instruct", "mistral/mistral-small-3.2"],
  ["mistral/devstral-2512", "mistral/devstral-2"],
  ["mistral/ministral-8b-2512", "mistral/ministral-3-8b"],
  ["aws/amazon.nova-micro-v1:0", "amazon/nova-micro"],
  ["aws/amazon.nova-lite-v1:0", "amazon/nova-lite"],
  ["aws/amazon.nova-pro-v1:0", "amazon/nova-pro"],
  ["aws/global.amazon.nova-2-lite-v1:0", "amazon/nova-2-lite"],
  ["x-ai/grok-4.5", "xai/grok-4.5"],
  ["x-ai/grok-4.3", "xai/grok-4.3"],
  ["x-ai/grok-4.20", "xai/grok-4.20"],
]);
