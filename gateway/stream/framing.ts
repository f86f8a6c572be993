// How a response body is cut into events. One implementation per framing; formats name the one they use.
import type { WireEvent } from "../formats/codec.js";

export interface FrameParser {
  /** Feeds bytes as they arrive; calls back synchronously for every complete event. */
  feed(chunk: Uint8Array): void;
  /** The body ended; reports whether bytes were left over mid-event. */
  end(): { readonly leftover: boolean };
}

export interface Framing {
  readonly contentType: string;
  parser(onEvent: (event: WireEvent) => void): FrameParser;
  serialize(event: WireEvent): Uint8Array;
}
