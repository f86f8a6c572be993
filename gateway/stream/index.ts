// Picks the framing of a response body from its content type.
import { EVENTSTREAM_CONTENT_TYPE, eventStreamFraming } from "./eventstream.js";
import type { Framing, WireEvent } from "./framing.js";
import { sseFraming } from "./sse.js";
import { wholeBodyFraming } from "./whole-body.js";

export type FramingRegistry = ReadonlyMap<string, Framing>;

export const DEFAULT_FRAMINGS: FramingRegistry = new Map([
  ["text/event-stream", sseFraming],
  [EVENTSTREAM_CONTENT_TYPE, eventStreamFraming],
]);

export function framingFor(contentType: string | null, registry: FramingRegistry, wholeBodyLimit: number): Framing {
  const type = (contentType ?? "").split(";")[0]!.trim().toLowerCase();
  return registry.get(type) ?? wholeBodyFraming(wholeBodyLimit);
}

/** The events of a stored stream body (a capture), or null when its content type is no stream framing. */
export function storedEvents(contentType: string | null, body: Uint8Array, registry: FramingRegistry = DEFAULT_FRAMINGS): WireEvent[] | null {
  const framing = registry.get((contentType ?? "").split(";")[0]!.trim().toLowerCase());
  if (!framing) return null;
  const events: WireEvent[] = [];
  const parser = framing.parser((e) => events.push(e));
  parser.feed(body);
  parser.end();
  return events;
}
