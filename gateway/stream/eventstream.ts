// AWS event-stream (application/vnd.amazon.eventstream), split incrementally by the length prefix and decoded with
// @smithy/eventstream-codec (which checks both CRCs). The client always gets the upstream's bytes; this parses a copy.
//
// A message becomes a WireEvent whose data is the payload text, named by type:
//   event      → name = :event-type           ("chunk", "messageStart", "metadata", …)
//   exception  → name = "exception:" + :exception-type, data = payload ({"message": …})
//   error      → name = "error:" + :error-code, data = :error-message
import { EventStreamCodec } from "@smithy/eventstream-codec";
import { fromUtf8, toUtf8 } from "@smithy/util-utf8";
import type { WireEvent } from "./framing.js";
import type { FrameParser, Framing } from "./framing.js";

export const EVENTSTREAM_CONTENT_TYPE = "application/vnd.amazon.eventstream";

/** Prelude (total length, headers length, prelude CRC) and trailing message CRC. */
const OVERHEAD = 16;
/** AWS caps a message at 16 MiB of payload plus 128 KiB of headers. */
const MAX_MESSAGE = 16 * 1024 * 1024 + 128 * 1024 + OVERHEAD;

const codec = new EventStreamCodec(toUtf8, fromUtf8);
const decoder = new TextDecoder();

function header(headers: Record<string, { type: string; value: unknown }>, name: string): string {
  const h = headers[name];
  return h && h.type === "string" ? String(h.value) : "";
}

export function decodeMessage(frame: Uint8Array): WireEvent {
  const { headers, body } = codec.decode(frame);
  const type = header(headers, ":message-type");
  if (type === "exception") return { name: `exception:${header(headers, ":exception-type")}`, data: decoder.decode(body) };
  if (type === "error") return { name: `error:${header(headers, ":error-code")}`, data: header(headers, ":error-message") };
  return { name: header(headers, ":event-type"), data: decoder.decode(body) };
}

export function encodeMessage(event: WireEvent): Uint8Array {
  const name = event.name ?? "";
  const str = (value: string) => ({ type: "string" as const, value });
  if (name.startsWith("error:")) {
    return codec.encode({
      headers: { ":message-type": str("error"), ":error-code": str(name.slice(6)), ":error-message": str(event.data) },
      body: new Uint8Array(0),
    });
  }
  const exception = name.startsWith("exception:");
  return codec.encode({
    headers: exception
      ? { ":message-type": str("exception"), ":exception-type": str(name.slice(10)), ":content-type": str("application/json") }
      : { ":message-type": str("event"), ":event-type": str(name), ":content-type": str("application/json") },
    body: fromUtf8(event.data),
  });
}

/** The exception frame a client sees when the gateway has to end a stream early. */
export function exceptionEvent(exceptionType: string, message: string): WireEvent {
  return { name: `exception:${exceptionType}`, data: JSON.stringify({ message }) };
}

/** Whole messages at the start of `bytes`, by their length prefixes. */
function completeMessages(bytes: Uint8Array): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 0;
  while (offset + 4 <= bytes.byteLength) {
    const length = view.getUint32(offset);
    // A nonsense length is passed on as is: the client's decoder will say what is wrong with it.
    if (length < OVERHEAD || length > MAX_MESSAGE) return bytes.byteLength;
    if (offset + length > bytes.byteLength) break;
    offset += length;
  }
  return offset;
}

export const eventStreamFraming: Framing = {
  contentType: EVENTSTREAM_CONTENT_TYPE,
  completePrefix: completeMessages,
  parser(onEvent): FrameParser {
    let pending: Uint8Array = new Uint8Array(0);
    // After a corrupt frame the rest of the body cannot be re-synchronized; it is left unparsed.
    let broken = false;
    return {
      feed(chunk) {
        if (broken) return;
        const buf = pending.byteLength === 0 ? chunk : concat(pending, chunk);
        let at = 0;
        while (buf.byteLength - at >= 4) {
          const view = new DataView(buf.buffer, buf.byteOffset + at, buf.byteLength - at);
          const total = view.getUint32(0);
          if (total < OVERHEAD || total > MAX_MESSAGE) {
            broken = true;
            break;
          }
          if (buf.byteLength - at < total) break;
          let event: WireEvent;
          try {
            event = decodeMessage(buf.subarray(at, at + total));
          } catch {
            broken = true;
            break;
          }
          at += total;
          onEvent(event);
        }
        // Keep only the unfinished frame, copied so the upstream's chunk can be released.
        pending = broken || at === buf.byteLength ? new Uint8Array(0) : buf.slice(at);
      },
      end() {
        return { leftover: broken || pending.byteLength > 0 };
      },
    };
  },
  serialize: encodeMessage,
};

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a, 0);
  out.set(b, a.byteLength);
  return out;
}
