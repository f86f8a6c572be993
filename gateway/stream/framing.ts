// How a response body is cut into events. One implementation per framing; formats name the one they use.

/** One framed event of a response stream: an SSE event, or an AWS event-stream message rendered as JSON text. */
export interface WireEvent {
  readonly name?: string;
  readonly data: string;
}

const parsedData = new WeakMap<WireEvent, { readonly value: unknown }>();

/**
 * The event's data as JSON, or undefined when it is not JSON. Parsed once per event: the accumulator and every
 * rewriter of a stream read the same event object, and share the parsed value (which they must not modify).
 */
export function eventJson(event: WireEvent): unknown {
  let entry = parsedData.get(event);
  if (!entry) {
    let value: unknown;
    try {
      value = JSON.parse(event.data);
    } catch {
      value = undefined;
    }
    entry = { value };
    parsedData.set(event, entry);
  }
  return entry.value;
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
