import { context, trace } from "@opentelemetry/api";

/**
 * pino mixin: the trace of the call being served on every log line it
 * writes, under the field names of OpenTelemetry's own pino instrumentation.
 */
export function traceLogFields(): object {
  const span = trace.getSpan(context.active());
  // A fresh object: pino merges the line's own fields into it.
  if (!span) return {};
  const { traceId, spanId, traceFlags } = span.spanContext();
  return { trace_id: traceId, span_id: spanId, trace_flags: `0${traceFlags.toString(16)}` };
}
