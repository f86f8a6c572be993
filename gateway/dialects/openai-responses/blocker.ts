// OpenAI Responses: a blocked call item becomes an assistant message item at the same output_index. In streams the
// item's events are replaced by a message's events and every later sequence_number is renumbered.
import { isRecord, num, str } from "../../formats/codec.js";
import { toolCallFromItem } from "./codec.js";
import { type Blocker, type Verdict, eventObject, withData } from "../../formats/blocker.js";
import { type HoldDialect, HoldRelease, onlyRefusal } from "../../formats/hold-release.js";

/** Call items the client executes; hosted ones (mcp_call, web_search_call, …) already ran at the provider. */
const CLIENT_CALLS = new Set(["function_call", "custom_tool_call", "local_shell_call", "shell_call", "apply_patch_call"]);

function isClientCall(item: unknown): item is Record<string, unknown> {
  return isRecord(item) && CLIENT_CALLS.has(str(item.type) ?? "");
}

function messageId(item: Record<string, unknown>, index: number): string {
  const id = str(item.call_id) ?? str(item.id) ?? String(index);
  return `msg_keyless_${id.replace(/[^A-Za-z0-9_-]/g, "_")}`;
}

function textPart(text: string) {
  return { type: "output_text", text, annotations: [], logprobs: [] };
}

function messageItem(id: string, text: string) {
  return { type: "message", id, status: "completed", role: "assistant", content: [textPart(text)] };
}

/** The refusal for a call item, or null to keep it. */
function judge(item: Record<string, unknown>, index: number, verdict: Verdict): string | null {
  const call = toolCallFromItem(item, index);
  return call ? verdict(call) : null;
}

function rewriteOutput(output: unknown[], replace: (item: Record<string, unknown>, index: number) => unknown): { output: unknown[]; changed: boolean } {
  let changed = false;
  const next = output.map((item, index) => {
    if (!isClientCall(item)) return item;
    const replaced = replace(item, index);
    if (replaced !== item) changed = true;
    return replaced;
  });
  return { output: next, changed };
}

function rewriteBody(body: unknown, verdict: Verdict): unknown {
  if (!isRecord(body) || !Array.isArray(body.output)) return undefined;
  const { output, changed } = rewriteOutput(body.output, (item, index) => {
    const text = judge(item, index, verdict);
    return text === null ? item : messageItem(messageId(item, index), text);
  });
  return changed ? { ...body, output } : undefined;
}

interface Held {
  readonly outputIndex: number;
  item?: Record<string, unknown>;
}

/**
 * A client call item is held from response.output_item.added to its response.output_item.done (which carries the
 * whole item). A blocked one becomes a message item at the same output index; the terminal response object lists the
 * replacement too; sequence numbers stay consecutive.
 */
function responsesHold(): HoldDialect<Held> {
  let nextSeq: number | null = null;
  /** Replacement message items by the blocked item's call id (for the terminal response object). */
  const replaced = new Map<string, ReturnType<typeof messageItem>>();
  return {
    begin: (e) => (e?.type === "response.output_item.added" && isClientCall(e.item) ? { outputIndex: num(e.output_index) } : null),
    take(held, e) {
      if (e?.type !== "response.output_item.done" || num(e.output_index) !== held.outputIndex || !isRecord(e.item)) return false;
      held.item = e.item;
      return true;
    },
    calls: ({ item, outputIndex }) => [item ? toolCallFromItem(item, outputIndex) : null],
    replacement({ item, outputIndex }, refusals) {
      const text = onlyRefusal(refusals);
      const id = messageId(item!, outputIndex);
      const done = messageItem(id, text);
      replaced.set(str(item!.call_id) ?? "", done);
      const at = { output_index: outputIndex };
      const part = { item_id: id, output_index: outputIndex, content_index: 0 };
      const synthetic: Record<string, unknown>[] = [
        { type: "response.output_item.added", ...at, item: { ...done, status: "in_progress", content: [] } },
        { type: "response.content_part.added", ...part, part: textPart("") },
        { type: "response.output_text.delta", ...part, delta: text, logprobs: [] },
        { type: "response.output_text.done", ...part, text, logprobs: [] },
        { type: "response.content_part.done", ...part, part: textPart(text) },
        { type: "response.output_item.done", ...at, item: done },
      ];
      return synthetic.map((s) => ({ name: String(s.type), data: JSON.stringify({ ...s, sequence_number: 0 }) }));
    },
    keepsAfterReplacement: (e) => e !== null && e.output_index === undefined && e.item_id === undefined,
    pass(e, event) {
      if (!e || replaced.size === 0 || !isRecord(e.response) || !Array.isArray(e.response.output)) return event;
      const { output } = rewriteOutput(e.response.output, (item) => replaced.get(str(item.call_id) ?? "") ?? item);
      return withData(event, { ...e, response: { ...e.response, output } });
    },
    /** sequence_number continues the numbering the client has seen so far. */
    out(event) {
      const e = eventObject(event);
      if (!e || typeof e.sequence_number !== "number") return event;
      nextSeq ??= e.sequence_number;
      const seq = nextSeq++;
      return seq === e.sequence_number ? event : withData(event, { ...e, sequence_number: seq });
    },
  };
}

export const responsesBlocker: Blocker = {
  rewriteBody,
  streamRewriter: (verdict) => new HoldRelease(responsesHold(), verdict),
};
