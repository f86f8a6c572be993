// The one hold-and-release stream rewriter. A client-side tool call streams as a run of events (start, argument
// deltas, stop); its arguments are only complete at the stop, so the run is held, judged, then released as it came or
// replaced by a text answer. Every other event streams through. A dialect says which events start and end a run, what
// call a run makes, and what replaces it.
import type { ToolCall } from "./types.js";
import type { EventRewriter } from "./codec.js";
import type { WireEvent } from "../stream/framing.js";
import { type Verdict, eventObject } from "./blocker.js";

export type EventObject = Record<string, unknown>;

/** How many held calls were let through and how many replaced, so far in this stream. */
export interface Tally {
  readonly allowed: number;
  readonly blocked: number;
}

/** One dialect's part of the rewriter; `H` is what it keeps about the held run. Made per stream (may keep state). */
export interface HoldDialect<H> {
  /** The run a client tool call starts with this event, or null when the event starts none. */
  begin(e: EventObject | null, event: WireEvent): H | null;
  /** Takes an event of the held run; true when it completes the run. */
  take(held: H, e: EventObject | null, event: WireEvent): boolean;
  /** The call a complete run makes (null: not a call keyless can judge; released as it came). */
  call(held: H): ToolCall | null;
  /** The events that replace a blocked run. */
  replacement(held: H, text: string): readonly WireEvent[];
  /** Held events that belong to no call (pings) and keep their place after a replacement. */
  keepsAfterReplacement?(e: EventObject | null): boolean;
  /** An event outside any run, as the client gets it (the stop reason once every call was blocked). */
  pass?(e: EventObject | null, event: WireEvent, tally: Tally): WireEvent;
  /** The last touch before the client sees any event (numbering that must stay consecutive). */
  out?(event: WireEvent): WireEvent;
}

export class HoldRelease<H> implements EventRewriter {
  private held: { readonly state: H; readonly events: WireEvent[] } | null = null;
  private tally = { allowed: 0, blocked: 0 };

  constructor(
    private readonly dialect: HoldDialect<H>,
    private readonly verdict: Verdict,
  ) {}

  rewrite(event: WireEvent, emit: (event: WireEvent) => void): void {
    const e = eventObject(event);
    if (this.held) {
      this.held.events.push(event);
      if (this.dialect.take(this.held.state, e, event)) this.release(emit);
      return;
    }
    const state = this.dialect.begin(e, event);
    if (state !== null) {
      this.held = { state, events: [event] };
      return;
    }
    this.send(this.dialect.pass ? this.dialect.pass(e, event, this.tally) : event, emit);
  }

  /** The stream ended inside a run: nothing complete to judge, pass it on as it came. */
  flush(emit: (event: WireEvent) => void): void {
    for (const e of this.held?.events ?? []) this.send(e, emit);
    this.held = null;
  }

  private send(event: WireEvent, emit: (event: WireEvent) => void): void {
    emit(this.dialect.out ? this.dialect.out(event) : event);
  }

  private release(emit: (event: WireEvent) => void): void {
    const { state, events } = this.held!;
    this.held = null;
    const call = this.dialect.call(state);
    const text = call ? this.verdict(call) : null;
    if (text === null) {
      this.tally = { ...this.tally, allowed: this.tally.allowed + 1 };
      for (const e of events) this.send(e, emit);
      return;
    }
    this.tally = { ...this.tally, blocked: this.tally.blocked + 1 };
    for (const e of this.dialect.replacement(state, text)) this.send(e, emit);
    const keeps = this.dialect.keepsAfterReplacement;
    if (keeps) for (const e of events) if (keeps(eventObject(e))) this.send(e, emit);
  }
}
