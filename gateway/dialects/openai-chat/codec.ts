// OpenAI Chat Completions. Streams carry usage only with stream_options.include_usage (a final chunk with choices: []).
import { type FormatCodec, type StreamAccumulator, count, isRecord, maxCount, num, parseJsonArguments, str, truncateText } from "../../formats/codec.js";
import { type WireEvent, eventJson } from "../../stream/framing.js";
import { openaiError, openaiRequestInfo, openaiUsage } from "../../formats/openai-shared.js";
import type { ResponseSummary, ToolCall, ToolResult, Usage } from "../../formats/types.js";

export function chatUsage(u: unknown): Usage | null {
  return openaiUsage(u, { input: "prompt", output: "completion" });
}

function chatToolCall(tc: Record<string, unknown>, fallbackIndex: number): ToolCall {
  const fn = isRecord(tc.function) ? tc.function : undefined;
  const custom = isRecord(tc.custom) ? tc.custom : undefined;
  return {
    id: str(tc.id) ?? `#${fallbackIndex}`,
    name: str(fn?.name) ?? str(custom?.name) ?? "",
    shape: "chat_tool_call",
    input: fn ? parseJsonArguments(str(fn.arguments) ?? "") : (str(custom?.input) ?? ""),
    index: typeof tc.index === "number" ? tc.index : fallbackIndex,
  };
}

export function parseChatCompletion(body: unknown): ResponseSummary {
  if (!isRecord(body)) return { usage: null, toolCalls: [] };
  if (isRecord(body.error)) return { usage: null, toolCalls: [], error: str(body.error.message) ?? "error" };
  const choices = Array.isArray(body.choices) ? body.choices : [];
  const first = isRecord(choices[0]) ? choices[0] : {};
  const message = isRecord(first.message) ? first.message : {};
  const toolCalls = Array.isArray(message.tool_calls) ? message.tool_calls.filter(isRecord) : [];
  return {
    model: str(body.model),
    responseId: str(body.id),
    usage: chatUsage(body.usage),
    toolCalls: toolCalls.map((tc, i) => chatToolCall(tc, i)),
    stopReason: str(first.finish_reason),
  };
}

export function chatToolResults(body: unknown): ToolResult[] {
  if (!isRecord(body) || !Array.isArray(body.messages)) return [];
  // Results of the previous response are the tool messages after the newest assistant message.
  const messages = body.messages.filter(isRecord);
  const lastAssistant = messages.findLastIndex((m) => m.role === "assistant");
  return messages
    .slice(lastAssistant + 1)
    .filter((m) => m.role === "tool")
    .map((m) => ({
      callId: str(m.tool_call_id) ?? "",
      isError: false,
      output: truncateText(typeof m.content === "string" ? m.content : JSON.stringify(m.content ?? "")),
    }));
}

interface PartialCall {
  id?: string;
  name: string;
  args: string;
  custom: boolean;
}

class ChatAccumulator implements StreamAccumulator {
  private model?: string;
  private responseId?: string;
  private usage: Usage | null = null;
  private stopReason?: string;
  private error?: string;
  private readonly partial = new Map<number, PartialCall>();

  push(event: WireEvent): void {
    if (event.data === "[DONE]") return;
    const chunk = eventJson(event);
    if (chunk === undefined) return;
    if (!isRecord(chunk)) return;
    if (isRecord(chunk.error)) this.error = str(chunk.error.message) ?? "error";
    this.model ??= str(chunk.model);
    this.responseId ??= str(chunk.id);
    if (isRecord(chunk.usage)) this.usage = chatUsage(chunk.usage);
    const choice = Array.isArray(chunk.choices) && isRecord(chunk.choices[0]) ? chunk.choices[0] : undefined;
    if (!choice) return;
    this.stopReason = str(choice.finish_reason) ?? this.stopReason;
    const delta = isRecord(choice.delta) ? choice.delta : {};
    if (!Array.isArray(delta.tool_calls)) return;
    for (const tc of delta.tool_calls) {
      if (!isRecord(tc)) continue;
      const index = num(tc.index);
      const entry = this.partial.get(index) ?? { name: "", args: "", custom: false };
      const fn = isRecord(tc.function) ? tc.function : undefined;
      const custom = isRecord(tc.custom) ? tc.custom : undefined;
      entry.id ??= str(tc.id);
      entry.name += str(fn?.name) ?? str(custom?.name) ?? "";
      entry.args += str(fn?.arguments) ?? str(custom?.input) ?? "";
      entry.custom ||= custom !== undefined;
      this.partial.set(index, entry);
    }
  }

  finish(): ResponseSummary {
    const toolCalls = [...this.partial.entries()]
      .sort(([a], [b]) => a - b)
      .map(([index, p]): ToolCall => ({
        id: p.id ?? `#${index}`,
        name: p.name,
        shape: "chat_tool_call",
        input: p.custom ? p.args : parseJsonArguments(p.args),
        index,
      }));
    return {
      model: this.model,
      responseId: this.responseId,
      usage: this.usage,
      toolCalls,
      stopReason: this.stopReason,
      error: this.error,
    };
  }
}

/** Reassembles chat completion chunks into a chat.completion object. */
function rebuildChatCompletion(events: readonly WireEvent[]): unknown {
  let head: Record<string, unknown> = {};
  let usage: unknown;
  interface ChoiceState {
    content: string;
    role?: string;
    finish_reason?: unknown;
    tool_calls: Map<number, Record<string, unknown>>;
  }
  const choices = new Map<number, ChoiceState>();
  for (const e of events) {
    if (e.data === "[DONE]") continue;
    const chunk = eventJson(e);
    if (chunk === undefined) continue;
    if (!isRecord(chunk)) continue;
    if (!head.id) head = { id: chunk.id, created: chunk.created, model: chunk.model, system_fingerprint: chunk.system_fingerprint };
    if (isRecord(chunk.usage)) usage = chunk.usage;
    for (const c of Array.isArray(chunk.choices) ? chunk.choices.filter(isRecord) : []) {
      const index = num(c.index);
      const choice: ChoiceState = choices.get(index) ?? { content: "", tool_calls: new Map() };
      const delta = isRecord(c.delta) ? c.delta : {};
      choice.role ??= str(delta.role);
      choice.content += str(delta.content) ?? "";
      if (c.finish_reason !== undefined && c.finish_reason !== null) choice.finish_reason = c.finish_reason;
      for (const tc of Array.isArray(delta.tool_calls) ? delta.tool_calls.filter(isRecord) : []) {
        const call = choice.tool_calls.get(num(tc.index)) ?? { id: tc.id, type: tc.type ?? "function", function: { name: "", arguments: "" } };
        const fn = call.function as { name: string; arguments: string };
        const part = isRecord(tc.function) ? tc.function : {};
        fn.name += str(part.name) ?? "";
        fn.arguments += str(part.arguments) ?? "";
        call.id ??= tc.id;
        choice.tool_calls.set(num(tc.index), call);
      }
      choices.set(index, choice);
    }
  }
  return {
    ...head,
    object: "chat.completion",
    choices: [...choices.entries()].map(([index, c]) => ({
      index,
      message: {
        role: c.role ?? "assistant",
        content: c.content === "" && c.tool_calls.size > 0 ? null : c.content,
        ...(c.tool_calls.size > 0 ? { tool_calls: [...c.tool_calls.values()] } : {}),
      },
      finish_reason: c.finish_reason ?? null,
    })),
    ...(usage ? { usage } : {}),
  };
}

export const openaiChat: FormatCodec = {
  id: "openai-chat",
  framing: "sse",
  requestInfo: openaiRequestInfo,
  costDrivers(body) {
    if (!isRecord(body)) return { choices: 1, serverTools: 0, premiumTier: false };
    return {
      maxOutputTokens: maxCount(body.max_completion_tokens, body.max_tokens),
      choices: Math.max(1, Math.ceil(count(body.n) ?? 1)),
      // Search models search the web for the request, with no cap the request can set.
      serverTools: isRecord(body.web_search_options) ? 1 : 0,
      premiumTier: body.service_tier === "priority",
    };
  },
  toolResults: chatToolResults,
  parseResponse: parseChatCompletion,
  accumulator: () => new ChatAccumulator(),
  rebuild: rebuildChatCompletion,
  errorResponse: openaiError,
  streamError: (message) => ({ data: JSON.stringify({ error: { message, type: "server_error", param: null, code: "upstream_error" } }) }),
  adjustRequest(body) {
    if (!chatStreamWithoutUsage(body) || !isRecord(body)) return undefined;
    const streamOptions = isRecord(body.stream_options) ? body.stream_options : {};
    return {
      body: { ...body, stream_options: { ...streamOptions, include_usage: true } },
      rewriter: { rewrite: (event, emit) => (isUsageOnlyChunk(event.data) ? undefined : emit(event)) },
    };
  },
};

/** True when a streamed chat request did not ask for usage (the gateway adds it and hides the extra chunk). */
export function chatStreamWithoutUsage(body: unknown): boolean {
  if (!isRecord(body) || body.stream !== true) return false;
  return !(isRecord(body.stream_options) && body.stream_options.include_usage === true);
}

/** The usage-only chunk an injected include_usage produces: no choices, a usage object. */
export function isUsageOnlyChunk(data: string): boolean {
  if (!data.startsWith("{") || !data.includes('"usage"')) return false;
  try {
    const chunk: unknown = JSON.parse(data);
    return isRecord(chunk) && Array.isArray(chunk.choices) && chunk.choices.length === 0 && isRecord(chunk.usage);
  } catch {
    return false;
  }
}
