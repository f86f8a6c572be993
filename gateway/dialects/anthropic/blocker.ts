// Anthropic Messages: a blocked tool_use block becomes a text block at the same index (so later indexes stay valid);
// when no tool_use block is left, stop_reason "tool_use" becomes "end_turn".
import type { EventRewriter } from "../../formats/codec.js";
import type { WireEvent } from "../../stream/framing.js";
import { isRecord, num, parseJsonArguments, str } from "../../formats/codec.js";
import { anthropicToolCalls } from "./codec.js";
import type { ToolCall } from "../../formats/types.js";
import { type Blocker, type Verdict, eventObject, withData } from "../../formats/blocker.js";

function callOf(block: Record<string, unknown>, index: number): ToolCall | null {
  const call = anthropicToolCalls([block])[0];
  return call ? { ...call, id: str(block.id) ?? `#${index}`, index } : null;
}

function rewriteBody(body: unknown, verdict: Verdict): unknown {
  if (!isRecord(body) || !Array.isArray(body.content)) return undefined;
  let blocked = 0;
  let remaining = 0;
  const content = body.content.map((block: unknown, index) => {
    if (!isRecord(block) || block.type !== "tool_use") return block;
    const call = callOf(block, index);
    const text = call ? verdict(call) : null;
    if (text === null) {
      remaining++;
      return block;
    }
    blocked++;
    return { type: "text", text };
  });
  if (blocked === 0) return undefined;
  return { ...body, content, ...(remaining === 0 && body.stop_reason === "tool_use" ? { stop_reason: "end_turn" } : {}) };
}

interface Held {
  readonly index: number;
  readonly block: Record<string, unknown>;
  json: string;
  readonly events: WireEvent[];
}

class AnthropicBlockRewriter implements EventRewriter {
  private held: Held | null = null;
  private allowed = 0;
  private blocked = 0;

  constructor(private readonly verdict: Verdict) {}

  rewrite(event: WireEvent, emit: (event: WireEvent) => void): void {
    const e = eventObject(event);
    if (this.held) {
      this.held.events.push(event);
      if (e?.type === "content_block_delta" && num(e.index) === this.held.index && isRecord(e.delta) && e.delta.type === "input_json_delta") {
        this.held.json += str(e.delta.partial_json) ?? "";
      } else if (e?.type === "content_block_stop" && num(e.index) === this.held.index) {
        this.release(emit);
      }
      return;
    }
    if (e?.type === "content_block_start" && isRecord(e.content_block) && e.content_block.type === "tool_use") {
      this.held = { index: num(e.index), block: e.content_block, json: "", events: [event] };
      return;
    }
    if (e?.type === "message_delta" && isRecord(e.delta) && e.delta.stop_reason === "tool_use" && this.blocked > 0 && this.allowed === 0) {
      emit(withData(event, { ...e, delta: { ...e.delta, stop_reason: "end_turn" } }));
      return;
    }
    emit(event);
  }

  flush(emit: (event: WireEvent) => void): void {
    // The stream ended inside a tool block: nothing complete to judge, pass it on as it came.
    for (const e of this.held?.events ?? []) emit(e);
    this.held = null;
  }

  private release(emit: (event: WireEvent) => void): void {
    const held = this.held!;
    this.held = null;
    const input = held.json === "" ? (held.block.input ?? {}) : parseJsonArguments(held.json);
    const call = callOf({ ...held.block, input }, held.index);
    const text = call ? this.verdict(call) : null;
    if (text === null) {
      this.allowed++;
      for (const e of held.events) emit(e);
      return;
    }
    this.blocked++;
    const index = held.index;
    emit({ name: "content_block_start", data: JSON.stringify({ type: "content_block_start", index, content_block: { type: "text", text: "" } }) });
    emit({ name: "content_block_delta", data: JSON.stringify({ type: "content_block_delta", index, delta: { type: "text_delta", text } }) });
    emit({ name: "content_block_stop", data: JSON.stringify({ type: "content_block_stop", index }) });
    // Events that arrived while the block was held and belong to no block (pings) keep their place after it.
    for (const e of held.events) {
      const type = eventObject(e)?.type;
      if (type !== "content_block_start" && type !== "content_block_delta" && type !== "content_block_stop") emit(e);
    }
  }
}

export const anthropicBlocker: Blocker = {
  rewriteBody,
  streamRewriter: (verdict) => new AnthropicBlockRewriter(verdict),
};
