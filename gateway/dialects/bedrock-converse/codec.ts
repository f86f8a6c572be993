// Bedrock Converse and ConverseStream. Usage: inputTokens excludes cache reads/writes, which are counted apart.
// Streams are AWS event-stream messages named by member (messageStart, contentBlockStart/Delta/Stop, messageStop,
// metadata); tool input arrives as JSON text fragments per contentBlockIndex.
import { awsErrorMessage, bedrockError, bedrockStreamError, streamFailure } from "../../formats/bedrock.js";
import { type FormatCodec, type StreamAccumulator, count, isRecord, num, parseJsonArguments, str, truncateText } from "../../formats/codec.js";
import { type WireEvent, eventJson } from "../../stream/framing.js";
import type { ResponseSummary, ToolCall, ToolResult, Usage } from "../../formats/types.js";

export function converseUsage(u: unknown): Usage | null {
  if (!isRecord(u)) return null;
  return {
    input: num(u.inputTokens),
    cacheRead: num(u.cacheReadInputTokens),
    cacheWrite: num(u.cacheWriteInputTokens),
    output: num(u.outputTokens),
    reasoning: 0,
  };
}

function toolCall(id: unknown, name: unknown, input: unknown, index: number): ToolCall {
  return { id: str(id) ?? `#${index}`, name: str(name) ?? "", shape: "converse_tool_use", input, index };
}

export function parseConverseResponse(body: unknown): ResponseSummary {
  const error = awsErrorMessage(body);
  if (error !== undefined || !isRecord(body)) return { usage: null, toolCalls: [], ...(error !== undefined ? { error } : {}) };
  const output = isRecord(body.output) ? body.output : {};
  const message = isRecord(output.message) ? output.message : {};
  const toolCalls: ToolCall[] = [];
  if (Array.isArray(message.content)) {
    message.content.forEach((block, index) => {
      if (isRecord(block) && isRecord(block.toolUse)) {
        const use = block.toolUse;
        toolCalls.push(toolCall(use.toolUseId, use.name, use.input ?? {}, index));
      }
    });
  }
  return { usage: converseUsage(body.usage), toolCalls, stopReason: str(body.stopReason) };
}

export function converseToolResults(body: unknown): ToolResult[] {
  if (!isRecord(body) || !Array.isArray(body.messages)) return [];
  // Only the newest user turn reports results of the previous response.
  const last = body.messages.findLast((m) => isRecord(m) && m.role === "user");
  if (!isRecord(last) || !Array.isArray(last.content)) return [];
  const results: ToolResult[] = [];
  for (const block of last.content) {
    if (!isRecord(block) || !isRecord(block.toolResult)) continue;
    const result = block.toolResult;
    const parts = Array.isArray(result.content) ? result.content : [];
    const text = parts
      .map((p) => (isRecord(p) ? (str(p.text) ?? (p.json !== undefined ? JSON.stringify(p.json) : "")) : ""))
      .filter((t) => t !== "")
      .join("\n");
    results.push({ callId: str(result.toolUseId) ?? "", isError: result.status === "error", output: truncateText(text) });
  }
  return results;
}

class ConverseAccumulator implements StreamAccumulator {
  private usage: Usage | null = null;
  private stopReason?: string;
  private error?: string;
  private readonly open = new Map<number, { id: unknown; name: unknown; json: string }>();
  private readonly calls: ToolCall[] = [];

  push(event: WireEvent): void {
    const failure = streamFailure(event);
    if (failure !== undefined) {
      this.error = failure;
      return;
    }
    const payload = eventJson(event);
    if (payload === undefined) return;
    if (!isRecord(payload)) return;
    const index = num(payload.contentBlockIndex);
    switch (event.name) {
      case "contentBlockStart": {
        const start = isRecord(payload.start) ? payload.start : {};
        if (isRecord(start.toolUse)) this.open.set(index, { id: start.toolUse.toolUseId, name: start.toolUse.name, json: "" });
        break;
      }
      case "contentBlockDelta": {
        const open = this.open.get(index);
        const delta = isRecord(payload.delta) ? payload.delta : {};
        if (open && isRecord(delta.toolUse)) open.json += str(delta.toolUse.input) ?? "";
        break;
      }
      case "contentBlockStop": {
        const open = this.open.get(index);
        if (!open) break;
        this.open.delete(index);
        this.calls.push(toolCall(open.id, open.name, parseJsonArguments(open.json), index));
        break;
      }
      case "messageStop":
        this.stopReason = str(payload.stopReason) ?? this.stopReason;
        break;
      case "metadata":
        this.usage = converseUsage(payload.usage) ?? this.usage;
        break;
    }
  }

  finish(): ResponseSummary {
    const incomplete = this.open.size > 0 ? "stream ended inside a content block" : undefined;
    return { usage: this.usage, toolCalls: this.calls, stopReason: this.stopReason, error: this.error ?? incomplete };
  }
}

export const bedrockConverse: FormatCodec = {
  id: "bedrock-converse",
  framing: "aws-eventstream",
  requestInfo(body) {
    // The model and streaming come from the path (/model/{id}/converse-stream).
    return { stream: false };
  },
  costDrivers(body) {
    const config = isRecord(body) && isRecord(body.inferenceConfig) ? body.inferenceConfig : {};
    const performance = isRecord(body) && isRecord(body.performanceConfig) ? body.performanceConfig : {};
    // Latency-optimized inference is priced above the standard rate.
    return { maxOutputTokens: count(config.maxTokens), choices: 1, serverTools: 0, premiumTier: performance.latency === "optimized" };
  },
  toolResults: converseToolResults,
  parseResponse: parseConverseResponse,
  accumulator: () => new ConverseAccumulator(),
  errorResponse: bedrockError,
  streamError: bedrockStreamError,
};
