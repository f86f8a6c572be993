// Gemini: a functionCall part arrives whole in one chunk, so a blocked part is replaced by a text part in place,
// chunk by chunk (nothing is held); the candidate's finishReason is STOP once no call is left in it.
import type { EventRewriter } from "../../formats/codec.js";
import { type WireEvent, eventJson } from "../../stream/framing.js";
import { isRecord, num, str } from "../../formats/codec.js";
import type { ToolCall } from "../../formats/types.js";
import { type Blocker, type Verdict, withData } from "../../formats/blocker.js";

/** Numbers calls the way the Gemini codec does (ids "<responseId>#<n>" when the model gave none). */
class CallCounter {
  private responseId?: string;
  private readonly seen = new Map<number, number>();

  rewriteChunk(chunk: Record<string, unknown>, verdict: Verdict): Record<string, unknown> | null {
    this.responseId ??= str(chunk.responseId);
    if (!Array.isArray(chunk.candidates)) return null;
    let changed = false;
    const candidates = chunk.candidates.map((candidate: unknown) => {
      if (!isRecord(candidate) || !isRecord(candidate.content) || !Array.isArray(candidate.content.parts)) return candidate;
      const ci = num(candidate.index);
      let blocked = 0;
      let remaining = 0;
      const parts = candidate.content.parts.map((part: unknown) => {
        if (!isRecord(part) || !isRecord(part.functionCall)) return part;
        const fc = part.functionCall;
        const n = this.seen.get(ci) ?? 0;
        this.seen.set(ci, n + 1);
        const prefix = ci === 0 ? "" : `c${ci}`;
        const call: ToolCall = {
          id: str(fc.id) ?? `${this.responseId ?? "gemini"}#${prefix}${n}`,
          name: str(fc.name) ?? "",
          shape: "function_call_gemini",
          input: fc.args ?? {},
          index: n,
        };
        const text = verdict(call);
        if (text === null) {
          remaining++;
          return part;
        }
        blocked++;
        // The thought signature belongs to the call it signed; the replacement text carries none.
        return { text };
      });
      if (blocked === 0) return candidate;
      changed = true;
      return { ...candidate, content: { ...candidate.content, parts }, ...(remaining === 0 ? { finishReason: "STOP" } : {}) };
    });
    return changed ? { ...chunk, candidates } : null;
  }
}

/** Rewrites one JSON value that is a response or (unframed streams) an array of responses; null when unchanged. */
function rewriteValue(value: unknown, counter: CallCounter, verdict: Verdict): unknown {
  if (Array.isArray(value)) {
    let changed = false;
    const out = value.map((c: unknown) => {
      const r = isRecord(c) ? counter.rewriteChunk(c, verdict) : null;
      if (r) changed = true;
      return r ?? c;
    });
    return changed ? out : null;
  }
  return isRecord(value) ? counter.rewriteChunk(value, verdict) : null;
}

class GeminiBlockRewriter implements EventRewriter {
  private readonly counter = new CallCounter();
  constructor(private readonly verdict: Verdict) {}

  rewrite(event: WireEvent, emit: (event: WireEvent) => void): void {
    const value = eventJson(event);
    if (value === undefined) return emit(event);
    const rewritten = rewriteValue(value, this.counter, this.verdict);
    emit(rewritten === null ? event : withData(event, rewritten));
  }
}

export const geminiBlocker: Blocker = {
  rewriteBody: (body, verdict) => rewriteValue(body, new CallCounter(), verdict) ?? undefined,
  streamRewriter: (verdict) => new GeminiBlockRewriter(verdict),
};
