// Bedrock InvokeModel with Anthropic bodies (Messages without `model`, with `anthropic_version`). Streams are AWS
// event-stream `chunk` messages whose payload {"bytes": base64} holds one Anthropic stream event each; the last one
// also carries amazon-bedrock-invocationMetrics, the usage for models whose events have none of their own.
import { AnthropicStreamState, anthropicCostDrivers, anthropicToolResults, parseAnthropicMessage, rebuildAnthropicMessage } from "../anthropic/codec.js";
import { awsErrorMessage, bedrockError, bedrockStreamError, streamFailure } from "../../formats/bedrock.js";
import { type FormatCodec, type StreamAccumulator, isRecord, num, str } from "../../formats/codec.js";
import type { WireEvent } from "../../stream/framing.js";
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

/** The Anthropic event inside a Bedrock `chunk` message, or undefined for anything else. */
function chunkEvent(event: WireEvent): Record<string, unknown> | undefined {
  if (event.name !== "chunk") return undefined;
  try {
    const outer: unknown = JSON.parse(event.data);
    const bytes = isRecord(outer) ? str(outer.bytes) : undefined;
    if (bytes === undefined) return undefined;
    const inner: unknown = JSON.parse(Buffer.from(bytes, "base64").toString("utf8"));
    return isRecord(inner) ? inner : undefined;
  } catch {
    return undefined;
  }
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
