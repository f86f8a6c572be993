// The one interface every wire format's blocker implements: replace blocked tool calls with a text answer that
// ends the agent's turn normally, in a complete JSON response or in a stream the official SDKs still accept.
import type { EventRewriter } from "./codec.js";
import { type WireEvent, eventJson } from "../stream/framing.js";
import { isRecord } from "./codec.js";
import type { ToolCall } from "./types.js";

/** The text that replaces a call, or null to let the call through. Asked once per complete client-side call. */
export type Verdict = (call: ToolCall) => string | null;

export interface Blocker {
  /** Rewrites a complete response; undefined when no call was blocked (the response stays byte for byte). */
  rewriteBody(body: unknown, verdict: Verdict): unknown;
  /** Holds tool-call blocks until they are complete, then releases or replaces them; everything else streams through. */
  streamRewriter(verdict: Verdict): EventRewriter;
}

/** The event's JSON data as an object, or null (not JSON, or not an object). */
export function eventObject(event: WireEvent): Record<string, unknown> | null {
  const parsed = eventJson(event);
  return isRecord(parsed) ? parsed : null;
}

export function withData(event: WireEvent, data: unknown): WireEvent {
  return { ...(event.name !== undefined ? { name: event.name } : {}), data: JSON.stringify(data) };
}
