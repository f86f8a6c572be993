// Anthropic Messages: a blocked tool_use block becomes a text block at the same index (so later indexes stay valid);
// when no tool_use block is left, stop_reason "tool_use" becomes "end_turn".
import { isRecord, num, parseJsonArguments, str } from "../../formats/codec.js";
import { anthropicToolCalls } from "./codec.js";
import type { ToolCall } from "../../formats/types.js";
import { type Blocker, type Verdict, withData } from "../../formats/blocker.js";
import { type HoldDialect, HoldRelease, onlyRefusal } from "../../formats/hold-release.js";
import type { WireEvent } from "../../stream/framing.js";

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
}

const BLOCK_EVENTS = new Set(["content_block_start", "content_block_delta", "content_block_stop"]);

/** A text block's events at `index`: what a blocked tool_use block becomes. */
function textBlock(index: number, text: string): WireEvent[] {
  return [
    { name: "content_block_start", data: JSON.stringify({ type: "content_block_start", index, content_block: { type: "text", text: "" } }) },
    { name: "content_block_delta", data: JSON.stringify({ type: "content_block_delta", index, delta: { type: "text_delta", text } }) },
    { name: "content_block_stop", data: JSON.stringify({ type: "content_block_stop", index }) },
  ];
}

/** A tool_use block is held from its content_block_start to its content_block_stop; its input arrives as JSON deltas. */
const anthropicHold = (): HoldDialect<Held> => ({
  begin: (e) => (e?.type === "content_block_start" && isRecord(e.content_block) && e.content_block.type === "tool_use" ? { index: num(e.index), block: e.content_block, json: "" } : null),
  take(held, e) {
    if (e?.type === "content_block_delta" && num(e.index) === held.index && isRecord(e.delta) && e.delta.type === "input_json_delta") {
      held.json += str(e.delta.partial_json) ?? "";
    }
    return e?.type === "content_block_stop" && num(e.index) === held.index;
  },
  calls: (held) => [callOf({ ...held.block, input: held.json === "" ? (held.block.input ?? {}) : parseJsonArguments(held.json) }, held.index)],
  replacement: ({ index }, refusals) => textBlock(index, onlyRefusal(refusals)),
  // Events that arrived while the block was held and belong to no block (pings) keep their place after it.
  keepsAfterReplacement: (e) => !BLOCK_EVENTS.has(String(e?.type)),
  pass(e, event, { allowed, blocked }) {
    if (e?.type === "message_delta" && isRecord(e.delta) && e.delta.stop_reason === "tool_use" && blocked > 0 && allowed === 0) {
      return withData(event, { ...e, delta: { ...e.delta, stop_reason: "end_turn" } });
    }
    return event;
  },
});

export const anthropicBlocker: Blocker = {
  rewriteBody,
  streamRewriter: (verdict) => new HoldRelease(anthropicHold(), verdict),
};
