// OpenAI Chat Completions: blocked tool_calls are dropped (the rest renumbered from 0), the refusal is appended to the
// message content, and finish_reason becomes "stop" when no call is left. Streams hold tool_call deltas per choice
// until the choice's finish_reason, since a call is only known complete then (formats/hold-release.ts: a lane per
// choice).
import type { WireEvent } from "../../stream/framing.js";
import { isRecord, num, str } from "../../formats/codec.js";
import { parseChatCompletion } from "./codec.js";
import type { ToolCall } from "../../formats/types.js";
import { type Blocker, type Verdict, withData } from "../../formats/blocker.js";
import { type EventObject, type HoldDialect, HoldRelease } from "../../formats/hold-release.js";

function callOf(tc: Record<string, unknown>, index: number): ToolCall | null {
  const call = parseChatCompletion({ choices: [{ message: { tool_calls: [{ ...tc, index }] } }] }).toolCalls[0];
  // Same id the chat codec gives a call without one, so the log and the verdict agree.
  return call ? { ...call, id: str(tc.id) ?? `#${index}` } : null;
}

function joinText(existing: unknown, added: readonly string[]): string {
  const prefix = typeof existing === "string" && existing !== "" ? [existing] : [];
  return [...prefix, ...added].join("\n\n");
}

function rewriteBody(body: unknown, verdict: Verdict): unknown {
  if (!isRecord(body) || !Array.isArray(body.choices)) return undefined;
  let changed = false;
  const choices = body.choices.map((choice: unknown) => {
    if (!isRecord(choice) || !isRecord(choice.message) || !Array.isArray(choice.message.tool_calls)) return choice;
    const refusals: string[] = [];
    const kept = choice.message.tool_calls.filter((tc: unknown, index) => {
      const call = isRecord(tc) ? callOf(tc, index) : null;
      const text = call ? verdict(call) : null;
      if (text !== null) refusals.push(text);
      return text === null;
    });
    if (refusals.length === 0) return choice;
    changed = true;
    const { tool_calls: _dropped, ...message } = choice.message;
    return {
      ...choice,
      message: { ...message, content: joinText(message.content, refusals), ...(kept.length > 0 ? { tool_calls: kept } : {}) },
      finish_reason: kept.length > 0 ? choice.finish_reason : "stop",
    };
  });
  return changed ? { ...body, choices } : undefined;
}

/** A choice's tool-call fragments, the parts of its delta that are held. */
function toolFragments(choice: EventObject): EventObject[] {
  const delta = isRecord(choice.delta) ? choice.delta : {};
  return Array.isArray(delta.tool_calls) ? delta.tool_calls.filter(isRecord) : [];
}

/** The only choice of a chunk, or null (a chunk of several is split before it is held). */
function onlyChoice(e: EventObject | null): EventObject | null {
  return Array.isArray(e?.choices) && e.choices.length === 1 && isRecord(e.choices[0]) ? e.choices[0] : null;
}

/** Fragments of one choice as a chunk of their own: how they are held, and released when no call is blocked. */
function fragmentChunk(envelope: EventObject, index: number, fragments: readonly EventObject[]): EventObject {
  return { ...envelope, choices: [{ index, delta: { tool_calls: fragments }, finish_reason: null }] };
}

interface Held {
  readonly index: number;
  /** Each held chunk's envelope (id, object, created, model, …) and its fragments, in arrival order. */
  readonly parts: { readonly envelope: EventObject; readonly fragments: readonly EventObject[] }[];
  /** The chunk with the choice's finish_reason (the rest of its delta kept), which ends the run. */
  finish?: { readonly event: WireEvent; readonly envelope: EventObject; readonly choice: EventObject };
  /** The tool-call indexes, in the order `calls` gave them. */
  order: number[];
}

interface Assembled {
  id?: string;
  type?: string;
  function: { name: string; arguments: string };
  custom?: { name: string; input: string };
}

/** The calls a choice's fragments make, by tool-call index (names and arguments arrive in pieces). */
function assemble(parts: Held["parts"]): Map<number, Assembled> {
  const assembled = new Map<number, Assembled>();
  for (const { fragments } of parts) {
    for (const f of fragments) {
      const i = num(f.index);
      const a = assembled.get(i) ?? { function: { name: "", arguments: "" } };
      const fn = isRecord(f.function) ? f.function : undefined;
      const custom = isRecord(f.custom) ? f.custom : undefined;
      a.id ??= str(f.id);
      a.type ??= str(f.type);
      a.function.name += str(fn?.name) ?? "";
      a.function.arguments += str(fn?.arguments) ?? "";
      if (custom) a.custom = { name: (a.custom?.name ?? "") + (str(custom.name) ?? ""), input: (a.custom?.input ?? "") + (str(custom.input) ?? "") };
      assembled.set(i, a);
    }
  }
  return assembled;
}

/** Cuts a chunk that holds anything into one chunk per choice, its tool-call fragments apart from the rest. */
function splitChunk(chunk: EventObject | null, event: WireEvent, holding: (lane: number) => boolean): WireEvent[] | null {
  if (!chunk || !Array.isArray(chunk.choices)) return null;
  const { choices, ...envelope } = chunk;
  const holds = choices.some((c) => isRecord(c) && (toolFragments(c).length > 0 || (c.finish_reason != null && holding(num(c.index)))));
  if (!holds) return null;
  const parts: WireEvent[] = [];
  for (const choice of choices) {
    if (!isRecord(choice)) continue;
    const index = num(choice.index);
    const fragments = toolFragments(choice);
    const { tool_calls: _held, ...rest } = isRecord(choice.delta) ? choice.delta : {};
    if (fragments.length > 0) parts.push(withData(event, fragmentChunk(envelope, index, fragments)));
    const finishes = choice.finish_reason != null && (fragments.length > 0 || holding(index));
    if (finishes || fragments.length === 0 || Object.keys(rest).length > 0 || choice.logprobs != null) parts.push(withData(event, { ...envelope, choices: [{ ...choice, delta: rest }] }));
  }
  return parts;
}

/**
 * A choice's tool calls are held from its first tool-call fragment to its finish_reason, one run per choice. Blocked
 * calls are dropped, the kept ones renumbered from 0, the refusals become content, and finish_reason "stop" when no
 * call is left.
 */
const chatHold = (): HoldDialect<Held> => ({
  split: splitChunk,
  lane(e) {
    const choice = onlyChoice(e);
    return choice && (toolFragments(choice).length > 0 || choice.finish_reason != null) ? num(choice.index) : null;
  },
  begin(e) {
    const choice = onlyChoice(e);
    const fragments = choice ? toolFragments(choice) : [];
    if (!e || !choice || fragments.length === 0) return null;
    const { choices: _choices, ...envelope } = e;
    return { index: num(choice.index), parts: [{ envelope, fragments }], order: [] };
  },
  take(held, e, event) {
    const choice = onlyChoice(e);
    if (!e || !choice) return false;
    const { choices: _choices, ...envelope } = e;
    const fragments = toolFragments(choice);
    if (fragments.length > 0) held.parts.push({ envelope, fragments });
    if (choice.finish_reason == null) return false;
    held.finish = { event, envelope, choice };
    return true;
  },
  calls(held) {
    const assembled = [...assemble(held.parts)].sort(([x], [y]) => x - y);
    held.order = assembled.map(([i]) => i);
    return assembled.map(([i, a]) => callOf({ ...(a.id ? { id: a.id } : {}), ...(a.custom ? { custom: a.custom } : { function: a.function }) }, i));
  },
  replacement({ index, parts, finish, order }, refusals) {
    const renumber = new Map<number, number>();
    order.forEach((i, k) => {
      if (refusals[k] === null) renumber.set(i, renumber.size);
    });
    const texts = refusals.filter((r) => r !== null);
    const out: EventObject[] = [];
    for (const { envelope, fragments } of parts) {
      const kept = fragments.filter((f) => renumber.has(num(f.index))).map((f) => ({ ...f, index: renumber.get(num(f.index)) }));
      if (kept.length > 0) out.push(fragmentChunk(envelope, index, kept));
    }
    const { event, envelope, choice } = finish!;
    out.push({ ...envelope, choices: [{ index, delta: { content: texts.join("\n\n") }, finish_reason: null }] });
    out.push({ ...envelope, choices: [{ ...choice, finish_reason: renumber.size === 0 ? "stop" : choice.finish_reason }] });
    return out.map((o) => withData(event, o));
  },
});

export const chatBlocker: Blocker = {
  rewriteBody,
  streamRewriter: (verdict) => new HoldRelease(chatHold(), verdict),
};
