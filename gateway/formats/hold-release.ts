// The one hold-and-release stream rewriter. A client-side tool call streams as a run of events (start, argument
// deltas, stop); its arguments are only complete at the stop, so the run is held, judged, then released as it came or
// replaced by a text answer. Every other event streams through. A dialect says which events start and end a run, what
// calls a run makes, and what replaces it. Most dialects hold one run at a time; OpenAI Chat holds one per choice (its
// "lanes"), each run holding every tool call of the choice until its finish_reason, and cuts a chunk into its choices.
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
  /**
   * Cuts an event into parts held or passed on their own (a Chat chunk's choices), or null to take it whole.
   * `holding` says whether a lane has a run open.
   */
  split?(e: EventObject | null, event: WireEvent, holding: (lane: number) => boolean): readonly WireEvent[] | null;
  /**
   * The lane (run) an event belongs to, or null: it belongs to none and passes even while runs are held. Without it,
   * one run at a time, and every event that comes while it is open is held with it.
   */
  lane?(e: EventObject | null): number | null;
  /** The run a client tool call starts with this event, or null when the event starts none. */
  begin(e: EventObject | null, event: WireEvent): H | null;
  /** Takes an event of the held run; true when it completes the run. */
  take(held: H, e: EventObject | null, event: WireEvent): boolean;
  /** The calls a complete run makes, in order (null: not a call keyless can judge; let through). */
  calls(held: H): readonly (ToolCall | null)[];
  /** The events that replace a run some of whose calls were blocked: `refusals[i]` is call i's text, null if kept. */
  replacement(held: H, refusals: readonly (string | null)[]): readonly WireEvent[];
  /** Held events that belong to no call (pings) and keep their place after a replacement. */
  keepsAfterReplacement?(e: EventObject | null): boolean;
  /** An event outside any run, as the client gets it (the stop reason once every call was blocked). */
  pass?(e: EventObject | null, event: WireEvent, tally: Tally): WireEvent;
  /** The last touch before the client sees any event (numbering that must stay consecutive). */
  out?(event: WireEvent): WireEvent;
}

/** The refusal of a run that makes one call (a replacement is asked for only when a call was blocked). */
export function onlyRefusal(refusals: readonly (string | null)[]): string {
  return refusals[0] ?? "";
}

interface Run<H> {
  readonly state: H;
  readonly events: WireEvent[];
}

export class HoldRelease<H> implements EventRewriter {
  /** Open runs by lane, in the order they began. */
  private readonly held = new Map<number, Run<H>>();
  private tally = { allowed: 0, blocked: 0 };

  constructor(
    private readonly dialect: HoldDialect<H>,
    private readonly verdict: Verdict,
  ) {}

  rewrite(event: WireEvent, emit: (event: WireEvent) => void): void {
    const e = eventObject(event);
    const parts = this.dialect.split?.(e, event, (lane) => this.held.has(lane)) ?? null;
    if (parts === null) return this.step(e, event, emit);
    for (const part of parts) this.step(eventObject(part), part, emit);
  }

  /** The stream ended inside a run: nothing complete to judge, pass it on as it came. */
  flush(emit: (event: WireEvent) => void): void {
    for (const run of this.held.values()) for (const e of run.events) this.send(e, emit);
    this.held.clear();
  }

  private step(e: EventObject | null, event: WireEvent, emit: (event: WireEvent) => void): void {
    const lane = this.dialect.lane ? this.dialect.lane(e) : 0;
    const run = lane === null ? undefined : this.held.get(lane);
    if (lane !== null && run) {
      run.events.push(event);
      if (!this.dialect.take(run.state, e, event)) return;
      this.held.delete(lane);
      return this.release(run, emit);
    }
    const state = lane === null ? null : this.dialect.begin(e, event);
    if (lane !== null && state !== null) {
      this.held.set(lane, { state, events: [event] });
      return;
    }
    this.send(this.dialect.pass ? this.dialect.pass(e, event, this.tally) : event, emit);
  }

  private send(event: WireEvent, emit: (event: WireEvent) => void): void {
    emit(this.dialect.out ? this.dialect.out(event) : event);
  }

  private release({ state, events }: Run<H>, emit: (event: WireEvent) => void): void {
    const refusals = this.dialect.calls(state).map((call) => (call ? this.verdict(call) : null));
    const blocked = refusals.filter((r) => r !== null).length;
    this.tally = { allowed: this.tally.allowed + refusals.length - blocked, blocked: this.tally.blocked + blocked };
    if (blocked === 0) {
      for (const e of events) this.send(e, emit);
      return;
    }
    for (const e of this.dialect.replacement(state, refusals)) this.send(e, emit);
    const keeps = this.dialect.keepsAfterReplacement;
    if (keeps) for (const e of events) if (keeps(eventObject(e))) this.send(e, emit);
  }
}
