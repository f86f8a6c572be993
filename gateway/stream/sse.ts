// Server-sent events, parsed incrementally with eventsource-parser.
import { createParser } from "eventsource-parser";
import type { WireEvent } from "./framing.js";
import type { FrameParser, Framing } from "./framing.js";

const encoder = new TextEncoder();

const LF = 0x0a;
const CR = 0x0d;

/** An event ends at a blank line: LF LF, CRLF CRLF or CR CR. */
function endOfLastEvent(bytes: Uint8Array): number {
  for (let i = bytes.length - 1; i > 0; i--) {
    if (bytes[i] === LF && (bytes[i - 1] === LF || (bytes[i - 1] === CR && i >= 3 && bytes[i - 2] === LF && bytes[i - 3] === CR))) return i + 1;
    if (bytes[i] === CR && bytes[i - 1] === CR) return i + 1;
  }
  return 0;
}

export const sseFraming: Framing = {
  contentType: "text/event-stream",
  completePrefix: endOfLastEvent,
  parser(onEvent): FrameParser {
    const decoder = new TextDecoder();
    let pending = false;
    const parser = createParser({
      onEvent: (e) => {
        pending = false;
        onEvent(e.event ? { name: e.event, data: e.data } : { data: e.data });
      },
    });
    return {
      feed(chunk) {
        const text = decoder.decode(chunk, { stream: true });
        if (text.trim() !== "") pending = true;
        parser.feed(text);
      },
      end() {
        parser.feed(decoder.decode());
        return { leftover: pending };
      },
    };
  },
  serialize(event: WireEvent): Uint8Array {
    const data = event.data.split("\n").map((line) => `data: ${line}\n`).join("");
    return encoder.encode(`${event.name ? `event: ${event.name}\n` : ""}${data}\n`);
  },
};
