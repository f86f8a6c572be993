// Bedrock InvokeModel with Anthropic bodies (Messages without `model`, with `anthropic_version`). Streams are AWS
// event-stream `chunk` messages whose payload {"bytes": base64} holds one Anthropic stream event each; the last one
// also carries amazon-bedrock-invocationMetrics, the usage for models whose events have none of their own.
import { AnthropicStreamState, anthropicCostDrivers, anthropicToolResults, parseAnthropicMessage, rebuildAnthropicMessage } from "../anthropic/codec.js";
import { awsErrorMessage, bedrockError, bedrockStreamError, streamFailure } from "../../formats/bedrock.js";
import { type FormatCodec, type StreamAccumulator, isRecord, num, str } from "../../formats/codec.js";
import { type WireEvent, eventJson } from "../../stream/framing.js";
import type { ResponseSummary, Usage } from "../../formats/types.js";

function metricsUsage(m: Record<string, unknown>): Usage {
  return {
    input: num(m.inputTokenCount),
    cacheRead: num(m.cacheReadInputTokenCount),
    cacheWrite: num(m.cacheWriteInputTokenCount),
    output: num(m.outputTokenCount),
    reasoning: 0,
  };
}

const inner = new WeakMap<WireEvent, WireEvent | null>();

/**
 * The Anthropic event a Bedrock `chunk` message wraps (base64 in `bytes`), or null for anything else. One object per
 * frame, so the accumulator and the blocker share its parsed JSON (eventJson).
 */
export function innerEvent(event: WireEvent): WireEvent | null {
  if (event.name !== "chunk") return null;
  let unwrapped = inner.get(event);
  if (unwrapped === undefined) {
    const outer = eventJson(event);
    const bytes = isRecord(outer) ? str(outer.bytes) : undefined;
    unwrapped = bytes === undefined ? null : { data: Buffer.from(bytes, "base64").toString("utf8") };
    inner.set(event, unwrapped);
  }
  return unwrapped;
}

/** The Anthropic event inside a Bedrock `chunk` message, parsed, or undefined for anything else. */
function chunkEvent(event: WireEvent): Record<string, unknown> | undefined {
  const unwrapped = innerEvent(event);
  const value = unwrapped ? eventJson(unwrapped) : undefined;
  return isRecord(value) ? value : undefined;
}

class InvokeAccumulator implements StreamAccumulator {
  private readonly state = new AnthropicStreamState();
  private metrics: Usage | null = null;
  private error?: string;

  push(event: WireEvent): void {
    const failure = streamFailure(event);
    if (failure !== undefined) {
      this.error = failure;
      return;
    }
    const inner = chunkEvent(event);
    if (!inner) return;
    const metrics = inner["amazon-bedrock-invocationMetrics"];
    if (isRecord(metrics)) this.metrics = metricsUsage(metrics);
    this.state.pushObject(inner);
  }

  finish(): ResponseSummary {
    const summary = this.state.summary();
    return {
      ...summary,
      usage: summary.usage ?? this.metrics,
      error: this.error ?? summary.error,
    };
  }
}

export const bedrockInvoke: FormatCodec = {
  id: "bedrock-invoke",
  framing: "aws-eventstream",
  requestInfo(body) {
    // The model and streaming come from the path (/model/{id}/invoke-with-response-stream).
    return { stream: false };
  },
  costDrivers: anthropicCostDrivers,
  toolResults: anthropicToolResults,
  parseResponse(body) {
    const error = awsErrorMessage(body);
    return error !== undefined ? { usage: null, toolCalls: [], error } : parseAnthropicMessage(body);
  },
  accumulator: () => new InvokeAccumulator(),
  rebuild: (events) => rebuildAnthropicMessage(events.map(chunkEvent).filter((e): e is Record<string, unknown> => e !== undefined)),
  errorResponse: bedrockError,
  streamError: bedrockStreamError,
};
