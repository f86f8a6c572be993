// Bedrock Converse: a blocked toolUse content block becomes a text block at the same contentBlockIndex, and
// stopReason "tool_use" becomes "end_turn" when no call is left. Streams hold toolUse blocks until contentBlockStop.
import { isRecord, num, parseJsonArguments, str } from "../../formats/codec.js";
import type { ToolCall } from "../../formats/types.js";
import { type Blocker, type Verdict, withData } from "../../formats/blocker.js";
import { type HoldDialect, HoldRelease, onlyRefusal } from "../../formats/hold-release.js";

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
}

/** A toolUse block is held from its contentBlockStart to its contentBlockStop; its input arrives as JSON text deltas. */
const converseHold = (): HoldDialect<Held> => ({
  begin: (e, event) => (event.name === "contentBlockStart" && e && isRecord(e.start) && isRecord(e.start.toolUse) ? { index: num(e.contentBlockIndex), use: e.start.toolUse, json: "" } : null),
  take(held, e, event) {
    if (!e || num(e.contentBlockIndex) !== held.index) return false;
    const delta = isRecord(e.delta) ? e.delta : {};
    if (event.name === "contentBlockDelta" && isRecord(delta.toolUse)) held.json += str(delta.toolUse.input) ?? "";
    return event.name === "contentBlockStop";
  },
  calls: (held) => [callOf(held.use, parseJsonArguments(held.json), held.index)],
  replacement: ({ index: contentBlockIndex }, refusals) => [
    { name: "contentBlockDelta", data: JSON.stringify({ contentBlockIndex, delta: { text: onlyRefusal(refusals) } }) },
    { name: "contentBlockStop", data: JSON.stringify({ contentBlockIndex }) },
  ],
  pass: (e, event, { allowed, blocked }) =>
    event.name === "messageStop" && e?.stopReason === "tool_use" && blocked > 0 && allowed === 0 ? withData(event, { ...e, stopReason: "end_turn" }) : event,
});

export const converseBlocker: Blocker = {
  rewriteBody,
  streamRewriter: (verdict) => new HoldRelease(converseHold(), verdict),
};
