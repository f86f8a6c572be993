// How a response body is cut into events. One implementation per framing; formats name the one they use.

/** One framed event of a response stream: an SSE event, or an AWS event-stream message rendered as JSON text. */
export interface WireEvent {
  readonly name?: string;
  readonly data: string;
}

/** Where an event keeps its parsed data: a non-enumerable property, so a spread copy (`{...event, data}`) drops it. */
const PARSED = Symbol("parsed data");
/** Data that is not JSON (JSON.parse never returns undefined, so undefined means "not parsed yet"). */
const NOT_JSON = Symbol("not JSON");
type Cached = WireEvent & { [PARSED]?: unknown };

/**
 * The event's data as JSON, or undefined when it is not JSON. Parsed once per event: the accumulator and every
 * rewriter of a stream read the same event object, and share the parsed value (which they must not modify). The value
 * lives on the event, so it dies young with it: a WeakMap keyed by events kept every value through the next scavenge
 * (V8 treats ephemeron values strongly there), and a long stream promoted them by the megabyte into old space.
 */
export function eventJson(event: WireEvent): unknown {
  const cached = (event as Cached)[PARSED];
  if (cached !== undefined) return cached === NOT_JSON ? undefined : cached;
  let value: unknown;
  try {
    value = JSON.parse(event.data);
  } catch {
    value = NOT_JSON;
  }
  if (Object.isExtensible(event)) Object.defineProperty(event, PARSED, { value });
  return value === NOT_JSON ? undefined : value;
}

export interface FrameParser {
  /** Feeds bytes as they arrive; calls back synchronously for every complete event. */
  feed(chunk: Uint8Array): void;
  /** The body ended; reports whether bytes were left over mid-event. */
  end(): { readonly leftover: boolean };
}

export interface Framing {
  readonly contentType: string;
  /**
   * Length of the longest prefix of `bytes` made of complete events. The tap forwards only whole events, so an
   * upstream that breaks mid-event leaves the client a clean stream followed by an error event, not a torn one.
   */
  completePrefix(bytes: Uint8Array): number;
  parser(onEvent: (event: WireEvent) => void): FrameParser;
  serialize(event: WireEvent): Uint8Array;
}
