// A body that is not framed (JSON, or Gemini's streamed JSON array): one event with the whole text at the end.
import type { FrameParser, Framing } from "./framing.js";

export function wholeBodyFraming(limit: number): Framing {
  return {
    contentType: "application/json",
    // Not framed: passed on as it arrives (holding it back would buffer the whole body).
    completePrefix: (bytes) => bytes.byteLength,
    parser(onEvent): FrameParser {
      const decoder = new TextDecoder();
      let text = "";
      let overflow = false;
      return {
        feed(chunk) {
          if (overflow) return;
          text += decoder.decode(chunk, { stream: true });
          if (text.length > limit) overflow = true;
        },
        end() {
          if (!overflow) onEvent({ data: text + decoder.decode() });
          return { leftover: false };
        },
      };
    },
    serialize: (event) => new TextEncoder().encode(event.data),
  };
}
