// OpenAI Chat Completions: blocked tool_calls are dropped (the rest renumbered from 0), the refusal is appended to the
// message content, and finish_reason becomes "stop" when no call is left. Streams hold tool_call deltas per choice
// until the choice's finish_reason, since a call is only known complete then.
import type { EventRewriter } from "../../formats/codec.js";
import type { WireEvent } from "../../stream/framing.js";
import { isRecord, num, str } from "../../formats/codec.js";
import { parseChatCompletion } from "./codec.js";
import type { ToolCall } from "../../formats/types.js";
import { type Blocker, type Verdict, eventObject, withData } from "../../formats/blocker.js";

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

interface HeldChunk {
  /** The chunk without its choices (id, object, created, model, …). */
  readonly envelope: Record<string, unknown>;
  readonly fragments: readonly Record<string, unknown>[];
}

interface Assembled {
  id?: string;
  type?: string;
  function: { name: string; arguments: string };
  custom?: { name: string; input: string };
}

class ChatBlockRewriter implements EventRewriter {
  /** Held tool-call fragments per choice index, in arrival order. */
  private readonly held = new Map<number, HeldChunk[]>();

  constructor(private readonly verdict: Verdict) {}

  rewrite(event: WireEvent, emit: (event: WireEvent) => void): void {
    const chunk = event.data === "[DONE]" ? null : eventObject(event);
    if (!chunk || !Array.isArray(chunk.choices)) return emit(event);
    const { choices, ...envelope } = chunk;
    const holds = choices.some((c) => isRecord(c) && (this.toolFragments(c).length > 0 || (c.finish_reason != null && this.held.has(num(c.index)))));
    if (!holds) return emit(event);
    // Split the chunk per choice so held parts and passing parts keep their order.
    const out: Record<string, unknown>[] = [];
    for (const choice of choices) {
      if (!isRecord(choice)) continue;
      const index = num(choice.index);
      const fragments = this.toolFragments(choice);
      const delta = isRecord(choice.delta) ? choice.delta : {};
      const { tool_calls: _held, ...rest } = delta;
      if (fragments.length > 0) {
        const list = this.held.get(index) ?? [];
        list.push({ envelope, fragments });
        this.held.set(index, list);
      }
      if (choice.finish_reason != null && this.held.has(index)) {
        out.push(...this.release(index, envelope, { ...choice, delta: rest }));
      } else if (fragments.length === 0 || Object.keys(rest).length > 0 || choice.logprobs != null) {
        out.push({ ...envelope, choices: [{ ...choice, delta: rest }] });
      }
    }
    for (const c of out) emit(withData(event, c));
  }

  flush(emit: (event: WireEvent) => void): void {
    // The stream ended without a finish_reason: release what was held unchanged.
    for (const [index, list] of this.held) {
      for (const h of list) emit({ data: JSON.stringify({ ...h.envelope, choices: [{ index, delta: { tool_calls: h.fragments }, finish_reason: null }] }) });
    }
    this.held.clear();
  }

  private toolFragments(choice: Record<string, unknown>): Record<string, unknown>[] {
    const delta = isRecord(choice.delta) ? choice.delta : {};
    return Array.isArray(delta.tool_calls) ? delta.tool_calls.filter(isRecord) : [];
  }

  private release(index: number, envelope: Record<string, unknown>, finish: Record<string, unknown>): Record<string, unknown>[] {
    const list = this.held.get(index) ?? [];
    this.held.delete(index);
    const assembled = new Map<number, Assembled>();
    for (const { fragments } of list) {
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
    const refusals: string[] = [];
    const renumber = new Map<number, number>();
    for (const [i, a] of [...assembled].sort(([x], [y]) => x - y)) {
      const call = callOf({ ...(a.id ? { id: a.id } : {}), ...(a.custom ? { custom: a.custom } : { function: a.function }) }, i);
      const text = call ? this.verdict(call) : null;
      if (text === null) renumber.set(i, renumber.size);
      else refusals.push(text);
    }
    const out: Record<string, unknown>[] = [];
    for (const { envelope: env, fragments } of list) {
      const kept = fragments.filter((f) => renumber.has(num(f.index))).map((f) => ({ ...f, index: renumber.get(num(f.index)) }));
      if (kept.length > 0) out.push({ ...env, choices: [{ index, delta: { tool_calls: kept }, finish_reason: null }] });
    }
    if (refusals.length > 0) {
      out.push({ ...envelope, choices: [{ index, delta: { content: refusals.join("\n\n") }, finish_reason: null }] });
    }
    const blockedAll = refusals.length > 0 && renumber.size === 0;
    out.push({ ...envelope, choices: [{ ...finish, finish_reason: blockedAll ? "stop" : finish.finish_reason }] });
    return out;
  }
}

export const chatBlocker: Blocker = {
  rewriteBody,
  streamRewriter: (verdict) => new ChatBlockRewriter(verdict),
};
