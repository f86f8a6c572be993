// The fake upstream's closing answers: once a request reports the result of the previous tool call, a plain text
// message ends the agent's tool loop. Each is the tool-call fixture with its tool block swapped for a text block, so
// ids, usage and framing stay the captured ones.
import { capture, withModel } from "./fixtures.js";

/** What the fake model says after it has seen a tool result. */
export const FINAL_TEXT = "Done: the command ran.";

type Body = Record<string, unknown>;

const sse = (events: readonly { name?: string; data: unknown }[]) =>
  events.map((e) => `${e.name ? `event: ${e.name}\n` : ""}data: ${JSON.stringify(e.data)}\n\n`).join("");

/** The `data:` payloads of a fixture stream, by event type (the first of each). */
function fixtureEvents(path: string, fixtureModel: string, model: string): Map<string, Body> {
  const byType = new Map<string, Body>();
  for (const line of withModel(capture(path), fixtureModel, model).split("\n")) {
    if (!line.startsWith("data: ")) continue;
    const data = JSON.parse(line.slice(6)) as Body;
    if (typeof data.type === "string" && !byType.has(data.type)) byType.set(data.type, data);
  }
  return byType;
}

/** True when the request's last turn carries a tool result (Anthropic, Responses or Gemini shape). */
export function reportsToolResult(api: "anthropic" | "responses" | "gemini", body: Body): boolean {
  const last = (key: string): Body | undefined => {
    const list = body[key];
    return Array.isArray(list) && list.length > 0 ? (list[list.length - 1] as Body) : undefined;
  };
  const parts = (v: unknown): Body[] => (Array.isArray(v) ? (v as Body[]) : []);
  if (api === "anthropic") {
    const m = last("messages");
    return m?.role === "user" && parts(m.content).some((c) => c.type === "tool_result");
  }
  if (api === "responses") {
    const item = last("input");
    return item?.type === "function_call_output" || item?.type === "custom_tool_call_output";
  }
  const content = last("contents");
  return parts(content?.parts).some((p) => p.functionResponse !== undefined);
}

export function anthropicTextMessage(model: string): Body {
  const message = JSON.parse(withModel(capture("fixtures/anthropic-messages-tool_use.json"), "claude-x", model)) as Body;
  return { ...message, content: [{ type: "text", text: FINAL_TEXT }], stop_reason: "end_turn" };
}

export function anthropicTextStream(model: string): string {
  const fx = fixtureEvents("fixtures/anthropic-messages-tool_use.sse", "claude-x", model);
  const delta = fx.get("message_delta")!;
  return sse([
    { name: "message_start", data: fx.get("message_start") },
    { name: "content_block_start", data: { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } } },
    { name: "content_block_delta", data: { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: FINAL_TEXT } } },
    { name: "content_block_stop", data: { type: "content_block_stop", index: 0 } },
    { name: "message_delta", data: { ...delta, delta: { stop_reason: "end_turn", stop_sequence: null } } },
    { name: "message_stop", data: fx.get("message_stop") },
  ]);
}

const responsesMessage = { type: "message", id: "msg_fake01", status: "completed", role: "assistant", content: [{ type: "output_text", text: FINAL_TEXT, annotations: [] }] };

export function responsesTextFinal(model: string): Body {
  const completed = fixtureEvents("fixtures/openai-responses-function_call.sse", "gpt-x", model).get("response.completed")!;
  return { ...(completed.response as Body), output: [responsesMessage] };
}

export function responsesTextStream(model: string): string {
  const fx = fixtureEvents("fixtures/openai-responses-function_call.sse", "gpt-x", model);
  let seq = 0;
  const e = (type: string, data: Body) => ({ name: type, data: { type, sequence_number: seq++, ...data } });
  const part = { item_id: responsesMessage.id, output_index: 0, content_index: 0 };
  const textPart = { type: "output_text", text: FINAL_TEXT, annotations: [] };
  return sse([
    e("response.created", { response: fx.get("response.created")!.response }),
    e("response.in_progress", { response: fx.get("response.in_progress")!.response }),
    e("response.output_item.added", { output_index: 0, item: { ...responsesMessage, status: "in_progress", content: [] } }),
    e("response.content_part.added", { ...part, part: { ...textPart, text: "" } }),
    e("response.output_text.delta", { ...part, delta: FINAL_TEXT }),
    e("response.output_text.done", { ...part, text: FINAL_TEXT }),
    e("response.content_part.done", { ...part, part: textPart }),
    e("response.output_item.done", { output_index: 0, item: responsesMessage }),
    e("response.completed", { response: responsesTextFinal(model) }),
  ]);
}

export function geminiTextChunk(model: string): Body {
  const sseText = withModel(capture("fixtures/gemini-functionCall.sse"), "gemini-x", model);
  const chunk = JSON.parse(sseText.trim().slice("data: ".length)) as { candidates: Body[] } & Body;
  const [candidate] = chunk.candidates;
  return { ...chunk, candidates: [{ ...candidate, content: { role: "model", parts: [{ text: FINAL_TEXT }] } }] };
}

/**
 * A JSON-mode request (`responseMimeType: application/json`, as Gemini CLI's model router sends) gets a JSON text
 * that fits the top level of its schema, as a real model in JSON mode answers; a tool call there is retried as unusable.
 */
export function geminiJsonChunk(model: string, generationConfig: unknown): Body | null {
  const config = (generationConfig ?? {}) as { responseMimeType?: unknown; responseJsonSchema?: unknown; responseSchema?: unknown };
  if (config.responseMimeType !== "application/json") return null;
  const schema = (config.responseJsonSchema ?? config.responseSchema ?? {}) as { properties?: Record<string, { type?: unknown }> };
  const value: Record<string, unknown> = {};
  for (const [name, prop] of Object.entries(schema.properties ?? {})) {
    const type = String(prop.type ?? "string").toLowerCase();
    value[name] = type === "integer" || type === "number" ? 1 : type === "boolean" ? false : type === "array" ? [] : type === "object" ? {} : "fake";
  }
  const chunk = geminiTextChunk(model);
  const [candidate] = chunk.candidates as Body[];
  return { ...chunk, candidates: [{ ...candidate, content: { role: "model", parts: [{ text: JSON.stringify(value) }] } }] };
}
