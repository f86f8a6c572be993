// Bedrock InvokeModel with Anthropic bodies: complete responses are Anthropic messages; stream events are Anthropic
// events base64-wrapped in event-stream `chunk` payloads, so the Anthropic blocker runs on the unwrapped events.
import type { EventRewriter } from "../../formats/codec.js";
import type { WireEvent } from "../../stream/framing.js";
import { anthropicBlocker } from "../anthropic/blocker.js";
import { innerEvent } from "./codec.js";
import type { Blocker, Verdict } from "../../formats/blocker.js";

class InvokeBlockRewriter implements EventRewriter {
  private readonly inner: EventRewriter;
  /** Unwrapped events → the frame they came in, so events released unchanged keep their original bytes. */
  private readonly originals = new WeakMap<WireEvent, WireEvent>();

  constructor(verdict: Verdict) {
    this.inner = anthropicBlocker.streamRewriter(verdict);
  }

  rewrite(event: WireEvent, emit: (event: WireEvent) => void): void {
    const inner = innerEvent(event);
    if (!inner) return emit(event);
    this.originals.set(inner, event);
    this.inner.rewrite(inner, (e) => emit(this.originals.get(e) ?? wrap(e)));
  }

  flush(emit: (event: WireEvent) => void): void {
    this.inner.flush?.((e) => emit(this.originals.get(e) ?? wrap(e)));
  }
}

function wrap(inner: WireEvent): WireEvent {
  return { name: "chunk", data: JSON.stringify({ bytes: Buffer.from(inner.data, "utf8").toString("base64") }) };
}

export const bedrockInvokeBlocker: Blocker = {
  rewriteBody: anthropicBlocker.rewriteBody,
  streamRewriter: (verdict) => new InvokeBlockRewriter(verdict),
};
