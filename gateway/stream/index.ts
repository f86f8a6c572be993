// Picks the framing of a response body from its content type.
import { EVENTSTREAM_CONTENT_TYPE, eventStreamFraming } from "./eventstream.js";
import type { Framing } from "./framing.js";
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
