// OpenAI Responses. Tool calls are output items; usage lives only in the final response object.
import { type FormatCodec, type StreamAccumulator, count, isRecord, num, parseJsonArguments, str, truncateText } from "../../formats/codec.js";
import { type WireEvent, eventJson } from "../../stream/framing.js";
import { openaiError, openaiRequestInfo, openaiUsage } from "../../formats/openai-shared.js";
import type { ResponseSummary, ToolCall, ToolCallShape, ToolResult, Usage } from "../../formats/types.js";

export function responsesUsage(u: unknown): Usage | null {
  return openaiUsage(u, { input: "input", output: "output" });
}

const CALL_ITEMS: Record<string, ToolCallShape> = {
  function_call: "function_call",
  custom_tool_call: "custom_tool_call",
  local_shell_call: "local_shell_call",
  shell_call: "shell_call",
  apply_patch_call: "apply_patch_call",
  mcp_call: "mcp_call",
};

export function toolCallFromItem(item: Record<string, unknown>, index: number): ToolCall | null {
  const shape = CALL_ITEMS[str(item.type) ?? ""];
  if (!shape) return null;
  const id = str(item.call_id) ?? str(item.id) ?? `#${index}`;
  const namespace = str(item.namespace) ?? str(item.server_label);
  const base = { id, shape, index, ...(namespace ? { namespace } : {}) };
  switch (shape) {
    case "function_call":
    case "mcp_call":
      return { ...base, name: str(item.name) ?? "", input: parseJsonArguments(str(item.arguments) ?? "") };
    case "custom_tool_call":
      return { ...base, name: str(item.name) ?? "", input: str(item.input) ?? "" };
    case "local_shell_call":
      return { ...base, name: "local_shell", input: { action: item.action } };
    case "shell_call":
      return { ...base, name: "shell", input: { action: item.action } };
    default:
      return { ...base, name: "apply_patch", input: { operation: item.operation } };
  }
}

export function parseResponseObject(body: unknown): ResponseSummary {
  if (!isRecord(body)) return { usage: null, toolCalls: [] };
  if (isRecord(body.error)) return { usage: null, toolCalls: [], error: str(body.error.message) ?? "error" };
  const output = Array.isArray(body.output) ? body.output : [];
  const toolCalls: ToolCall[] = [];
  output.forEach((item, index) => {
    const call = isRecord(item) ? toolCallFromItem(item, index) : null;
    if (call) toolCalls.push(call);
  });
  const incomplete = isRecord(body.incomplete_details) ? str(body.incomplete_details.reason) : undefined;
  return {
    model: str(body.model),
    responseId: str(body.id),
    usage: responsesUsage(body.usage),
    toolCalls,
    stopReason: incomplete ?? str(body.status),
    serverToolCalls: output.filter((item) => isRecord(item) && typeof item.type === "string" && HOSTED_CALL.test(item.type)).length,
  };
}

const RESULT_ITEMS = new Set([
  "function_call_output",
  "custom_tool_call_output",
  "local_shell_call_output",
  "shell_call_output",
  "apply_patch_call_output",
]);

export function responsesToolResults(body: unknown): ToolResult[] {
  if (!isRecord(body) || !Array.isArray(body.input)) return [];
  const items = body.input.filter(isRecord);
  // Codex resends the whole transcript: the new results are those after the last model output item.
  const lastCall = items.findLastIndex((i) => CALL_ITEMS[str(i.type) ?? ""] !== undefined || i.role === "assistant");
  return items
    .slice(lastCall + 1)
    .filter((i) => RESULT_ITEMS.has(str(i.type) ?? ""))
    .map((i) => {
      const text = outputText(i.output);
      return { callId: str(i.call_id) ?? "", isError: looksLikeError(i, text), output: truncateText(text) };
    });
}

function outputText(output: unknown): string {
  if (typeof output === "string") return output;
  if (Array.isArray(output)) return output.map((p) => (isRecord(p) && typeof p.text === "string" ? p.text : "")).join("\n");
  return output === undefined ? "" : JSON.stringify(output);
}

function looksLikeError(item: Record<string, unknown>, text: string): boolean {
  if (item.status === "failed" || item.status === "incomplete") return true;
  // Codex reports exec results as {"exit_code": N, ...} inside the text.
  const m = /"exit_code"\s*:\s*(-?\d+)/.exec(text) ?? /Process exited with code (-?\d+)/.exec(text);
  return m !== null && m[1] !== "0";
}

class ResponsesAccumulator implements StreamAccumulator {
  private final?: ResponseSummary;
  private model?: string;
  private responseId?: string;
  private error?: string;
  private readonly items = new Map<number, ToolCall>();

  push(event: WireEvent): void {
    const e = eventJson(event);
    if (e === undefined) return;
    if (!isRecord(e)) return;
    switch (e.type) {
      case "response.created":
      case "response.in_progress":
        if (isRecord(e.response)) {
          this.model ??= str(e.response.model);
          this.responseId ??= str(e.response.id);
        }
        break;
      case "response.output_item.done": {
        const call = isRecord(e.item) ? toolCallFromItem(e.item, num(e.output_index)) : null;
        if (call) this.items.set(call.index, call);
        break;
      }
      case "response.completed":
      case "response.incomplete":
      case "response.failed":
        if (isRecord(e.response)) {
          this.final = parseResponseObject(e.response);
          if (e.type === "response.failed") {
            const err = isRecord(e.response.error) ? str(e.response.error.message) : undefined;
            this.error = err ?? "response.failed";
          }
        }
        break;
      case "error":
        this.error = str(e.message) ?? "error";
        break;
    }
  }

  finish(): ResponseSummary {
    // output_item.done carries each finished item even when the terminal event never arrives.
    const toolCalls = this.final && this.final.toolCalls.length >= this.items.size ? this.final.toolCalls : [...this.items.values()];
    return {
      model: this.final?.model ?? this.model,
      responseId: this.final?.responseId ?? this.responseId,
      usage: this.final?.usage ?? null,
      toolCalls,
      stopReason: this.final?.stopReason,
      error: this.error ?? (this.final ? undefined : "stream ended before response.completed"),
    };
  }
}

/** Tools OpenAI runs inside the request (billed per call or per session); function, custom and shell tools run at the client. */
const HOSTED_TOOL = /^(web_search|file_search|code_interpreter|mcp|image_generation)/;
/** The output items of those calls. */
const HOSTED_CALL = /^(web_search|file_search|code_interpreter|mcp|image_generation)_call$/;

export const openaiResponses: FormatCodec = {
  id: "openai-responses",
  framing: "sse",
  requestInfo: openaiRequestInfo,
  costDrivers(body) {
    if (!isRecord(body)) return { choices: 1, serverTools: 0, premiumTier: false };
    const tools = Array.isArray(body.tools) ? body.tools.filter(isRecord) : [];
    const maxCalls = count(body.max_tool_calls);
    return {
      maxOutputTokens: count(body.max_output_tokens),
      choices: 1,
      serverTools: tools.filter((t) => typeof t.type === "string" && HOSTED_TOOL.test(t.type)).length,
      ...(maxCalls === undefined ? {} : { maxServerToolCalls: maxCalls }),
      premiumTier: body.service_tier === "priority",
    };
  },
  toolResults: responsesToolResults,
  parseResponse: parseResponseObject,
  accumulator: () => new ResponsesAccumulator(),
  rebuild(events) {
    // The terminal event carries the whole response object.
    for (const e of [...events].reverse()) {
      try {
        const parsed: unknown = JSON.parse(e.data);
        if (isRecord(parsed) && /^response\.(completed|incomplete|failed)$/.test(str(parsed.type) ?? "")) return parsed.response;
      } catch {
        // keep looking
      }
    }
    return null;
  },
  errorResponse: openaiError,
  streamError: (message) => ({
    name: "error",
    data: JSON.stringify({ type: "error", code: "upstream_error", message, param: null }),
  }),
};
