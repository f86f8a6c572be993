// Server-sent events, parsed incrementally with eventsource-parser.
import { createParser } from "eventsource-parser";
import type { WireEvent } from "../formats/codec.js";
import type { FrameParser, Framing } from "./framing.js";

const encoder = new TextEncoder();

export const sseFraming: Framing = {
  contentType: "text/event-stream",
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
