// Bedrock Converse: a blocked toolUse content block becomes a text block at the same contentBlockIndex, and
// stopReason "tool_use" becomes "end_turn" when no call is left. Streams hold toolUse blocks until contentBlockStop.
import type { EventRewriter } from "../../formats/codec.js";
import type { WireEvent } from "../../stream/framing.js";
import { isRecord, num, parseJsonArguments, str } from "../../formats/codec.js";
import type { ToolCall } from "../../formats/types.js";
import { type Blocker, type Verdict, eventObject, withData } from "../../formats/blocker.js";

function callOf(use: Record<string, unknown>, input: unknown, index: number): ToolCall {
  return { id: str(use.toolUseId) ?? `#${index}`, name: str(use.name) ?? "", shape: "converse_tool_use", input, index };
}

function rewriteBody(body: unknown, verdict: Verdict): unknown {
  if (!isRecord(body) || !isRecord(body.output) || !isRecord(body.output.message) || !Array.isArray(body.output.message.content)) return undefined;
  let blocked = 0;
  let remaining = 0;
  const content = body.output.message.content.map((block: unknown, index) => {
    if (!isRecord(block) || !isRecord(block.toolUse)) return block;
    const text = verdict(callOf(block.toolUse, block.toolUse.input ?? {}, index));
    if (text === null) {
      remaining++;
      return block;
    }
    blocked++;
    return { text };
  });
  if (blocked === 0) return undefined;
  return {
    ...body,
    output: { ...body.output, message: { ...body.output.message, content } },
    ...(remaining === 0 && body.stopReason === "tool_use" ? { stopReason: "end_turn" } : {}),
  };
}

interface Held {
  readonly index: number;
  readonly use: Record<string, unknown>;
  json: string;
  readonly events: WireEvent[];
}

class ConverseBlockRewriter implements EventRewriter {
  private held: Held | null = null;
  private allowed = 0;
  private blocked = 0;

  constructor(private readonly verdict: Verdict) {}

  rewrite(event: WireEvent, emit: (event: WireEvent) => void): void {
    const e = eventObject(event);
    if (this.held) {
      this.held.events.push(event);
      if (e && num(e.contentBlockIndex) === this.held.index) {
        const delta = isRecord(e.delta) ? e.delta : {};
        if (event.name === "contentBlockDelta" && isRecord(delta.toolUse)) this.held.json += str(delta.toolUse.input) ?? "";
        if (event.name === "contentBlockStop") this.release(emit);
      }
      return;
    }
    if (event.name === "contentBlockStart" && e && isRecord(e.start) && isRecord(e.start.toolUse)) {
      this.held = { index: num(e.contentBlockIndex), use: e.start.toolUse, json: "", events: [event] };
      return;
    }
    if (event.name === "messageStop" && e?.stopReason === "tool_use" && this.blocked > 0 && this.allowed === 0) {
      return emit(withData(event, { ...e, stopReason: "end_turn" }));
    }
    emit(event);
  }

  flush(emit: (event: WireEvent) => void): void {
    for (const e of this.held?.events ?? []) emit(e);
    this.held = null;
  }

  private release(emit: (event: WireEvent) => void): void {
    const held = this.held!;
    this.held = null;
    const text = this.verdict(callOf(held.use, parseJsonArguments(held.json), held.index));
    if (text === null) {
      this.allowed++;
      for (const e of held.events) emit(e);
      return;
    }
    this.blocked++;
    const contentBlockIndex = held.index;
    emit({ name: "contentBlockDelta", data: JSON.stringify({ contentBlockIndex, delta: { text } }) });
    emit({ name: "contentBlockStop", data: JSON.stringify({ contentBlockIndex }) });
  }
}

export const converseBlocker: Blocker = {
  rewriteBody,
  streamRewriter: (verdict) => new ConverseBlockRewriter(verdict),
};
