// Scripted provider responses carrying tool calls, in the shapes the fixtures in test/fixtures/captures show
// (Anthropic input_json_delta fragments, Responses output_item events, chat tool_call deltas, Gemini whole parts).
import { sseResponse } from "../fakes/upstream.js";

export interface Call {
  readonly id: string;
  readonly name: string;
  readonly input: unknown;
}

const sse = (events: readonly { name?: string; data: unknown }[]) =>
  events.map((e) => `${e.name ? `event: ${e.name}\n` : ""}data: ${typeof e.data === "string" ? e.data : JSON.stringify(e.data)}\n\n`).join("");

/** Splits text into pieces of `n` characters, as providers fragment streamed arguments. */
function pieces(text: string, n = 10): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += n) out.push(text.slice(i, i + n));
  return out.length ? out : [""];
}

// ---- Anthropic Messages ----

export function anthropicMessage(model: string, calls: readonly Call[], text?: string) {
  return {
    id: "msg_script01",
    type: "message",
    role: "assistant",
    model,
    content: [...(text ? [{ type: "text", text }] : []), ...calls.map((c) => ({ type: "tool_use", id: c.id, name: c.name, input: c.input }))],
    stop_reason: calls.length ? "tool_use" : "end_turn",
    stop_sequence: null,
    usage: { input_tokens: 12, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 9 },
  };
}

export function anthropicStream(model: string, calls: readonly Call[], text?: string): Response {
  const events: { name: string; data: unknown }[] = [];
  const e = (name: string, data: Record<string, unknown>) => events.push({ name, data: { type: name, ...data } });
  e("message_start", {
    message: { id: "msg_script01", type: "message", role: "assistant", model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 12, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 1 } },
  });
  let index = 0;
  if (text) {
    e("content_block_start", { index, content_block: { type: "text", text: "" } });
    for (const t of pieces(text, 12)) e("content_block_delta", { index, delta: { type: "text_delta", text: t } });
    e("content_block_stop", { index });
    index++;
  }
  for (const c of calls) {
    e("content_block_start", { index, content_block: { type: "tool_use", id: c.id, name: c.name, input: {} } });
    events.push({ name: "ping", data: { type: "ping" } });
    for (const p of pieces(JSON.stringify(c.input))) e("content_block_delta", { index, delta: { type: "input_json_delta", partial_json: p } });
    e("content_block_stop", { index });
    index++;
  }
  e("message_delta", { delta: { stop_reason: calls.length ? "tool_use" : "end_turn", stop_sequence: null }, usage: { output_tokens: 9 } });
  e("message_stop", {});
  return sseResponse(sse(events));
}

// ---- OpenAI Responses ----

export type ResponsesItem =
  | { readonly type: "function_call"; readonly call_id: string; readonly name: string; readonly arguments: string; readonly namespace?: string }
  | { readonly type: "custom_tool_call"; readonly call_id: string; readonly name: string; readonly input: string; readonly namespace?: string }
  | { readonly type: "message"; readonly text: string };

function responsesOutputItem(item: ResponsesItem, i: number) {
  if (item.type === "message") {
    return { type: "message", id: `msg_s${i}`, status: "completed", role: "assistant", content: [{ type: "output_text", text: item.text, annotations: [], logprobs: [] }] };
  }
  const prefix = item.type === "function_call" ? "fc" : "ctc";
  return { ...item, id: `${prefix}_s${i}`, status: "completed" };
}

export function responsesObject(model: string, items: readonly ResponsesItem[]) {
  return {
    id: "resp_script01",
    object: "response",
    created_at: 1795714155,
    model,
    status: "completed",
    output: items.map(responsesOutputItem),
    usage: { input_tokens: 20, input_tokens_details: { cached_tokens: 0 }, output_tokens: 5, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 25 },
  };
}

export function responsesStream(model: string, items: readonly ResponsesItem[]): Response {
  const events: { name: string; data: Record<string, unknown> }[] = [];
  let seq = 0;
  const e = (type: string, data: Record<string, unknown>) => events.push({ name: type, data: { type, sequence_number: seq++, ...data } });
  const shell = { id: "resp_script01", object: "response", created_at: 1795714155, model, output: [], status: "in_progress" };
  e("response.created", { response: shell });
  e("response.in_progress", { response: shell });
  items.forEach((item, output_index) => {
    const done = responsesOutputItem(item, output_index);
    if (item.type === "message") {
      const part = { item_id: done.id, output_index, content_index: 0 };
      e("response.output_item.added", { output_index, item: { ...done, status: "in_progress", content: [] } });
      e("response.content_part.added", { ...part, part: { type: "output_text", text: "", annotations: [], logprobs: [] } });
      for (const d of pieces(item.text, 12)) e("response.output_text.delta", { ...part, delta: d, logprobs: [] });
      e("response.output_text.done", { ...part, text: item.text, logprobs: [] });
      e("response.content_part.done", { ...part, part: { type: "output_text", text: item.text, annotations: [], logprobs: [] } });
      e("response.output_item.done", { output_index, item: done });
      return;
    }
    const isFn = item.type === "function_call";
    const text = isFn ? item.arguments : item.input;
    e("response.output_item.added", { output_index, item: { ...done, status: "in_progress", ...(isFn ? { arguments: "" } : { input: "" }) } });
    const kind = isFn ? "function_call_arguments" : "custom_tool_call_input";
    for (const d of pieces(text)) e(`response.${kind}.delta`, { item_id: done.id, output_index, delta: d });
    e(`response.${kind}.done`, { item_id: done.id, output_index, ...(isFn ? { arguments: text } : { input: text }) });
    e("response.output_item.done", { output_index, item: done });
  });
  e("response.completed", { response: responsesObject(model, items) });
  return sseResponse(sse(events));
}

// ---- OpenAI Chat Completions ----

export function chatCompletion(model: string, calls: readonly Call[], text?: string) {
  return {
    id: "chatcmpl-script",
    object: "chat.completion",
    created: 1795714155,
    model,
    choices: [
      {
        index: 0,
        message: {
          role: "assistant",
          content: text ?? null,
          refusal: null,
          ...(calls.length ? { tool_calls: calls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: JSON.stringify(c.input) } })) } : {}),
        },
        logprobs: null,
        finish_reason: calls.length ? "tool_calls" : "stop",
      },
    ],
    usage: { prompt_tokens: 20, completion_tokens: 5, total_tokens: 25, prompt_tokens_details: { cached_tokens: 0 } },
  };
}

export function chatStream(model: string, calls: readonly Call[], text?: string, includeUsage = false): Response {
  const base = { id: "chatcmpl-script", object: "chat.completion.chunk", created: 1795714155, model };
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) => ({ data: { ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] } });
  const events: { data: unknown }[] = [chunk({ role: "assistant", content: "" })];
  for (const t of text ? pieces(text, 12) : []) events.push(chunk({ content: t }));
  calls.forEach((c, index) => {
    events.push(chunk({ tool_calls: [{ index, id: c.id, type: "function", function: { name: c.name, arguments: "" } }] }));
    for (const p of pieces(JSON.stringify(c.input))) events.push(chunk({ tool_calls: [{ index, function: { arguments: p } }] }));
  });
  events.push(chunk({}, calls.length ? "tool_calls" : "stop"));
  if (includeUsage) events.push({ data: { ...base, choices: [], usage: { prompt_tokens: 20, completion_tokens: 5, total_tokens: 25, prompt_tokens_details: { cached_tokens: 0 } } } });
  events.push({ data: "[DONE]" });
  return sseResponse(sse(events));
}

// ---- Gemini ----

export interface GeminiCall {
  readonly name: string;
  readonly args: unknown;
  readonly id?: string;
}

export function geminiChunk(model: string, calls: readonly GeminiCall[], text?: string) {
  return {
    candidates: [
      {
        content: {
          role: "model",
          parts: [
            ...(text ? [{ text }] : []),
            ...calls.map((c) => ({ functionCall: { ...(c.id ? { id: c.id } : {}), name: c.name, args: c.args }, thoughtSignature: "c2lnbmF0dXJl" })),
          ],
        },
        finishReason: "STOP",
        index: 0,
      },
    ],
    usageMetadata: { promptTokenCount: 20, candidatesTokenCount: 5, totalTokenCount: 25 },
    modelVersion: model,
    responseId: "resp_gemini_script",
  };
}

/** alt=sse: a text chunk (if any), then one chunk per call, as Gemini sends parts whole. */
export function geminiStream(model: string, calls: readonly GeminiCall[], text?: string): Response {
  const chunks = [...(text ? [geminiChunk(model, [], text)] : []), ...calls.map((c) => geminiChunk(model, [c]))];
  return sseResponse(sse(chunks.map((data) => ({ data }))));
}

export function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}
