// Scrubs a response body on its way through, before anything else reads it: the client, the capture, the stream
// parser (so tool calls and error rows are clean) and the rewriters all see the scrubbed bytes.
//   SSE and unframed bodies: byte scrubbing; "[redacted]" keeps an SSE event an event and a JSON string a string.
//   AWS event-stream: whole frames; a frame holding a secret (in a header, its payload, or the base64 `bytes` of a
//   Bedrock chunk) is decoded, scrubbed and encoded anew, so its lengths and CRCs are right.
import { EventStreamCodec } from "@smithy/eventstream-codec";
import { fromUtf8, toUtf8 } from "@smithy/util-utf8";
import { EVENTSTREAM_CONTENT_TYPE } from "../stream/eventstream.js";
import type { Framing } from "../stream/framing.js";
import type { Scrubber, StreamScrubber } from "./scrub.js";

const codec = new EventStreamCodec(toUtf8, fromUtf8);
const decoder = new TextDecoder();
const BYTES_FIELD = Buffer.from('"bytes"');
/** Prelude (total length, headers length, prelude CRC) before the headers. */
const PRELUDE = 12;

/** A Bedrock chunk's payload, `{"bytes":"<base64 of a provider event>"}`; null for any other payload. */
function chunkBytes(payload: Uint8Array): { json: Record<string, unknown>; inner: Buffer } | null {
  if (Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).indexOf(BYTES_FIELD) === -1) return null;
  try {
    const json = JSON.parse(decoder.decode(payload)) as unknown;
    if (json === null || typeof json !== "object" || Array.isArray(json)) return null;
    const bytes = (json as Record<string, unknown>).bytes;
    return typeof bytes === "string" ? { json: json as Record<string, unknown>, inner: Buffer.from(bytes, "base64") } : null;
  } catch {
    return null;
  }
}

function framePayload(frame: Uint8Array): Uint8Array {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  return frame.subarray(Math.min(frame.byteLength, PRELUDE + view.getUint32(4)), Math.max(PRELUDE, frame.byteLength - 4));
}

function scrubFrame(frame: Uint8Array, scrubber: Scrubber): Uint8Array {
  const chunk = chunkBytes(framePayload(frame));
  if (!scrubber.found(frame) && !(chunk && scrubber.found(chunk.inner))) return frame;
  let message: ReturnType<EventStreamCodec["decode"]>;
  try {
    message = codec.decode(frame);
  } catch {
    // A corrupt frame the client cannot decode anyway: the secret goes, the frame stays broken.
    return scrubber.bytes(frame);
  }
  const headers = { ...message.headers };
  for (const [name, header] of Object.entries(headers)) {
    if (header.type === "string") headers[name] = { type: "string", value: scrubber.text(header.value) };
  }
  let body = message.body;
  const inner = chunkBytes(body);
  if (inner) {
    const json = { ...inner.json, bytes: Buffer.from(scrubber.bytes(inner.inner)).toString("base64") };
    body = fromUtf8(JSON.stringify(json));
  }
  return codec.encode({ headers, body: scrubber.bytes(body) });
}

/** Frames pass whole: a frame is held until its last byte has arrived (AWS caps a frame at 16 MiB). */
function frameScrubber(scrubber: Scrubber, framing: Framing): StreamScrubber {
  let pending: Uint8Array | null = null;
  return {
    push(chunk) {
      const buf = pending ? Buffer.concat([pending, chunk]) : chunk;
      const complete = framing.completePrefix(buf);
      pending = complete < buf.byteLength ? Uint8Array.prototype.slice.call(buf, complete) : null;
      const frames: Uint8Array[] = [];
      const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
      let at = 0;
      while (at < complete) {
        const length = at + 4 <= complete ? view.getUint32(at) : 0;
        // Not a frame (completePrefix passes nonsense lengths on whole): bytes scrubbing for the rest.
        if (length < 16 || at + length > complete) {
          frames.push(scrubber.bytes(buf.subarray(at, complete)));
          break;
        }
        frames.push(scrubFrame(buf.subarray(at, at + length), scrubber));
        at += length;
      }
      return frames.length === 1 ? frames[0]! : Buffer.concat(frames);
    },
    end() {
      const rest = pending;
      pending = null;
      return rest ? scrubber.bytes(rest) : new Uint8Array(0);
    },
  };
}

/**
 * How a response body in `framing` is scrubbed as it streams (the tap runs it on every chunk, before anything reads
 * it); null when there is nothing to scrub.
 */
export function streamScrubber(scrubber: Scrubber, framing: Framing): StreamScrubber | null {
  if (scrubber.empty) return null;
  return framing.contentType === EVENTSTREAM_CONTENT_TYPE ? frameScrubber(scrubber, framing) : scrubber.stream();
}
