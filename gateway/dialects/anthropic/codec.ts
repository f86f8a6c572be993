// Anthropic Messages (direct, Vertex rawPredict, Bedrock InvokeModel bodies).
// Usage: input_tokens excludes cache; message_delta.usage is cumulative (replace, don't add).
import { type CostDrivers, type FormatCodec, type GatewayError, type StreamAccumulator, count, isRecord, jsonResponse, num, parseJsonArguments, statusOf, str, truncateText } from "../../formats/codec.js";
import { type WireEvent, eventJson } from "../../stream/framing.js";
import type { ResponseSummary, ToolCall, ToolCallShape, ToolResult, Usage } from "../../formats/types.js";

const ERROR_TYPES: Record<GatewayError["kind"], string> = {
  invalid_request: "invalid_request_error",
  authentication: "authentication_error",
  permission: "permission_error",
  blocked: "invalid_request_error",
  not_found: "not_found_error",
  too_large: "request_too_large",
  rate_limit: "rate_limit_error",
  internal: "api_error",
  upstream: "api_error",
  unavailable: "overloaded_error",
  timeout: "api_error",
};

export function anthropicUsage(u: unknown, base?: Usage): Usage | null {
  if (!isRecord(u)) return base ?? null;
  const pick = (key: string, fallback: number) => (typeof u[key] === "number" ? num(u[key]) : fallback);
  const details = isRecord(u.output_tokens_details) ? u.output_tokens_details : {};
  return {
    input: pick("input_tokens", base?.input ?? 0),
    cacheRead: pick("cache_read_input_tokens", base?.cacheRead ?? 0),
    cacheWrite: pick("cache_creation_input_tokens", base?.cacheWrite ?? 0),
    output: pick("output_tokens", base?.output ?? 0),
    reasoning: typeof details.thinking_tokens === "number" ? num(details.thinking_tokens) : (base?.reasoning ?? 0),
  };
}

const TOOL_BLOCKS: Record<string, ToolCallShape> = {
  tool_use: "tool_use",
  server_tool_use: "server_tool_use",
  mcp_tool_use: "mcp_tool_use",
};

function toolCallFromBlock(block: Record<string, unknown>, index: number, input: unknown): ToolCall | null {
  const shape = TOOL_BLOCKS[str(block.type) ?? ""];
  if (!shape) return null;
  const serverName = str(block.server_name);
  return {
    id: str(block.id) ?? `#${index}`,
    name: str(block.name) ?? "",
    ...(serverName ? { namespace: serverName } : {}),
    shape,
    input,
    index,
  };
}

export function anthropicToolCalls(content: unknown): ToolCall[] {
  if (!Array.isArray(content)) return [];
  const calls: ToolCall[] = [];
  content.forEach((block, index) => {
    if (!isRecord(block)) return;
    const call = toolCallFromBlock(block, index, block.input ?? {});
    if (call) calls.push(call);
  });
  return calls;
}

export function anthropicToolResults(body: unknown): ToolResult[] {
  if (!isRecord(body) || !Array.isArray(body.messages)) return [];
  const results: ToolResult[] = [];
  // Only the newest user turn reports results of the previous response; older turns were seen before.
  const last = body.messages.findLast((m) => isRecord(m) && m.role === "user");
  if (!isRecord(last) || !Array.isArray(last.content)) return [];
  for (const block of last.content) {
    if (!isRecord(block) || (block.type !== "tool_result" && block.type !== "mcp_tool_result")) continue;
    results.push({
      callId: str(block.tool_use_id) ?? "",
      isError: block.is_error === true,
      output: truncateText(resultText(block.content)),
    });
  }
  return results;
}

function resultText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content.map((b) => (isRecord(b) && typeof b.text === "string" ? b.text : "")).join("\n");
}

/** Calls Anthropic ran itself: server tools and MCP connector tools (what per-call fees are charged on). */
const serverToolCalls = (calls: readonly ToolCall[]) => calls.filter((c) => c.shape === "server_tool_use" || c.shape === "mcp_tool_use").length;

export function parseAnthropicMessage(body: unknown): ResponseSummary {
  if (!isRecord(body)) return { usage: null, toolCalls: [] };
  if (body.type === "error") {
    return { usage: null, toolCalls: [], error: str(isRecord(body.error) ? body.error.message : undefined) ?? "error" };
  }
  const toolCalls = anthropicToolCalls(body.content);
  return {
    model: str(body.model),
    responseId: str(body.id),
    usage: anthropicUsage(body.usage),
    toolCalls,
    stopReason: str(body.stop_reason),
    serverToolCalls: serverToolCalls(toolCalls),
  };
}

interface OpenBlock {
  readonly block: Record<string, unknown>;
  json: string;
}

/** Assembles an Anthropic event stream. Accepts the events as JSON objects (SSE data or Bedrock chunk payloads). */
export class AnthropicStreamState {
  private model?: string;
  private responseId?: string;
  private usage: Usage | null = null;
  private stopReason?: string;
  private error?: string;
  private readonly open = new Map<number, OpenBlock>();
  private readonly calls: ToolCall[] = [];

  pushObject(event: Record<string, unknown>): void {
    switch (event.type) {
      case "message_start": {
        const message = isRecord(event.message) ? event.message : {};
        this.model = str(message.model);
        this.responseId = str(message.id);
        this.usage = anthropicUsage(message.usage);
        break;
      }
      case "content_block_start": {
        const block = isRecord(event.content_block) ? event.content_block : {};
        if (TOOL_BLOCKS[str(block.type) ?? ""]) this.open.set(num(event.index), { block, json: "" });
        break;
      }
      case "content_block_delta": {
        const open = this.open.get(num(event.index));
        const delta = isRecord(event.delta) ? event.delta : {};
        if (open && delta.type === "input_json_delta") open.json += str(delta.partial_json) ?? "";
        break;
      }
      case "content_block_stop": {
        const index = num(event.index);
        const open = this.open.get(index);
        if (!open) break;
        this.open.delete(index);
        const input = open.json === "" ? (open.block.input ?? {}) : parseJsonArguments(open.json);
        const call = toolCallFromBlock(open.block, index, input);
        if (call) this.calls.push(call);
        break;
      }
      case "message_delta": {
        const delta = isRecord(event.delta) ? event.delta : {};
        this.stopReason = str(delta.stop_reason) ?? this.stopReason;
        this.usage = anthropicUsage(event.usage, this.usage ?? undefined);
        break;
      }
      case "error": {
        const err = isRecord(event.error) ? event.error : {};
        this.error = `${str(err.type) ?? "error"}: ${str(err.message) ?? ""}`;
        break;
      }
    }
  }

  /** Whether a tool block is open (its argument deltas are read). */
  get inToolBlock(): boolean {
    return this.open.size > 0;
  }

  summary(): ResponseSummary {
    const incomplete = this.open.size > 0 ? "stream ended inside a content block" : undefined;
    return {
      model: this.model,
      responseId: this.responseId,
      usage: this.usage,
      toolCalls: this.calls,
      stopReason: this.stopReason,
      error: this.error ?? incomplete,
      serverToolCalls: serverToolCalls(this.calls),
    };
  }
}

/** The event types the summary reads outside a tool block. */
const SUMMARY_TYPES = ["message_start", "message_delta", "content_block_start", "error"];

/**
 * An event that cannot change the summary: no tool block is open, and its data names none of SUMMARY_TYPES. Without a
 * backslash, JSON can write a type name (as a key's value, or a duplicate key's) only literally, so an event of a type
 * the summary reads always names it; with one, the event is parsed. Most of a stream is text deltas: they skip the parse.
 */
function irrelevant(state: AnthropicStreamState, data: string): boolean {
  return !state.inToolBlock && !data.includes("\\") && !SUMMARY_TYPES.some((type) => data.includes(type));
}

class AnthropicAccumulator implements StreamAccumulator {
  readonly state = new AnthropicStreamState();
  push(event: WireEvent): void {
    if (irrelevant(this.state, event.data)) return;
    const parsed = eventJson(event);
    if (parsed === undefined) return;
    if (isRecord(parsed)) this.state.pushObject(parsed);
  }
  finish(): ResponseSummary {
    return this.state.summary();
  }
}

/** Reassembles Anthropic stream events (already parsed) into a Message. */
export function rebuildAnthropicMessage(events: readonly Record<string, unknown>[]): unknown {
  let message: Record<string, unknown> = {};
  const content: Record<string, unknown>[] = [];
  const json = new Map<number, string>();
  for (const e of events) {
    const index = num(e.index);
    const delta = isRecord(e.delta) ? e.delta : {};
    switch (e.type) {
      case "message_start":
        message = isRecord(e.message) ? { ...e.message } : {};
        break;
      case "content_block_start":
        content[index] = isRecord(e.content_block) ? { ...e.content_block } : {};
        break;
      case "content_block_delta": {
        const block = (content[index] ??= {});
        if (delta.type === "text_delta") block.text = `${str(block.text) ?? ""}${str(delta.text) ?? ""}`;
        else if (delta.type === "thinking_delta") block.thinking = `${str(block.thinking) ?? ""}${str(delta.thinking) ?? ""}`;
        else if (delta.type === "signature_delta") block.signature = delta.signature;
        else if (delta.type === "input_json_delta") json.set(index, (json.get(index) ?? "") + (str(delta.partial_json) ?? ""));
        else if (delta.type === "citations_delta") block.citations = [...(Array.isArray(block.citations) ? block.citations : []), delta.citation];
        break;
      }
      case "content_block_stop": {
        const partial = json.get(index);
        if (partial !== undefined && content[index]) content[index].input = parseJsonArguments(partial);
        break;
      }
      case "message_delta":
        message = { ...message, ...delta, usage: { ...(isRecord(message.usage) ? message.usage : {}), ...(isRecord(e.usage) ? e.usage : {}) } };
        break;
    }
  }
  return { ...message, content: content.filter(Boolean) };
}

function parsedEvents(events: readonly WireEvent[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const e of events) {
    try {
      const parsed: unknown = JSON.parse(e.data);
      if (isRecord(parsed)) out.push(parsed);
    } catch {
      // a broken event is left out of the reassembly
    }
  }
  return out;
}

/** Server tools run at Anthropic inside the request; bash, text_editor, computer and memory tools run at the client. */
const SERVER_TOOL = /^(web_search|web_fetch|code_execution|tool_search_tool)_/;

export function anthropicCostDrivers(body: unknown): CostDrivers {
  if (!isRecord(body)) return { choices: 1, serverTools: 0, premiumTier: false };
  const tools = Array.isArray(body.tools) ? body.tools.filter(isRecord) : [];
  const server = tools.filter((t) => typeof t.type === "string" && SERVER_TOOL.test(t.type));
  // MCP connector servers: their tools run at Anthropic too, with no per-server cap.
  const mcp = Array.isArray(body.mcp_servers) ? body.mcp_servers.length : 0;
  const uses = server.map((t) => count(t.max_uses));
  const capped = mcp === 0 && uses.every((u) => u !== undefined);
  return {
    maxOutputTokens: count(body.max_tokens),
    choices: 1,
    serverTools: server.length + mcp,
    ...(capped ? { maxServerToolCalls: uses.reduce((a: number, u) => a + u!, 0) } : {}),
    premiumTier: false,
  };
}

export function anthropicError(error: GatewayError): Response {
  return jsonResponse(
    statusOf(error),
    { type: "error", error: { type: ERROR_TYPES[error.kind], message: error.message } },
    error.headers,
  );
}

export const anthropicMessages: FormatCodec = {
  id: "anthropic-messages",
  framing: "sse",
  requestInfo(body) {
    if (!isRecord(body)) return { stream: false };
    return { model: str(body.model), stream: body.stream === true };
  },
  costDrivers: anthropicCostDrivers,
  toolResults: anthropicToolResults,
  parseResponse: parseAnthropicMessage,
  accumulator: () => new AnthropicAccumulator(),
  rebuild: (events) => rebuildAnthropicMessage(parsedEvents(events)),
  errorResponse: anthropicError,
  streamError: (message) => ({
    name: "error",
    data: JSON.stringify({ type: "error", error: { type: "api_error", message } }),
  }),
};
