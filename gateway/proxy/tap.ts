// Passes a response body to the client chunk by chunk while a parser reads a copy, so usage and tool calls are
// known at the end without buffering the stream. With rewriters, the client gets re-serialized events instead.
import type { EventRewriter, StreamAccumulator } from "../formats/codec.js";
import type { WireEvent } from "../stream/framing.js";
import type { ResponseSummary } from "../formats/types.js";
import type { Framing } from "../stream/framing.js";

/** The longest event held back waiting for its end. */
const MAX_PARTIAL_EVENT = 1024 * 1024;

export interface TapResult {
  readonly summary: ResponseSummary;
  /** Milliseconds from the tap's creation to the first body chunk. */
  readonly firstByteMs: number | null;
  /** The first `captureLimit` bytes of the upstream body, and whether it was cut. */
  readonly captured: Uint8Array;
  readonly truncated: boolean;
  readonly bytes: number;
  /** Why the stream did not end normally: "client disconnected", "upstream: …". */
  readonly failure?: string;
}

export interface TapOptions {
  readonly framing: Framing;
  readonly accumulator: StreamAccumulator;
  readonly rewriters: readonly EventRewriter[];
  readonly captureLimit: number;
  /** The final event to send when the upstream breaks mid-stream, in the format's own framing. */
  readonly streamError: (message: string) => WireEvent | null;
  readonly onDone: (result: TapResult) => void;
  readonly now?: () => number;
}

/** A body source: anything async-iterable over byte chunks (a Node Readable), with a way to stop it early. */
export interface ByteSource extends AsyncIterable<Uint8Array> {
  destroy(error?: Error): void;
}

export function tapStream(body: ByteSource, options: TapOptions): ReadableStream<Uint8Array> {
  const { framing, accumulator, rewriters, captureLimit, onDone } = options;
  const now = options.now ?? (() => performance.now());
  const started = now();
  let firstByteMs: number | null = null;
  const capture: Uint8Array[] = [];
  let capturedBytes = 0;
  let truncated = false;
  let bytes = 0;
  let done = false;
  let out: ReadableStreamDefaultController<Uint8Array> | null = null;
  /** The start of an event whose end has not arrived yet (passthrough only). */
  let partial: Uint8Array | null = null;

  /** Chunks handed to the client so far: a pull must not return before it hands one over or ends the stream. */
  let sent = 0;
  const send = (bytes: Uint8Array) => {
    out?.enqueue(bytes);
    sent++;
  };
  const emitToClient = (event: WireEvent) => send(framing.serialize(event));
  const rewriteChain = (event: WireEvent, index: number): void => {
    const rewriter = rewriters[index];
    if (!rewriter) return emitToClient(event);
    rewriter.rewrite(event, (e) => rewriteChain(e, index + 1));
  };
  const parser = framing.parser((event) => {
    try {
      accumulator.push(event);
    } catch {
      // A parser bug must never break the client's stream; the summary just misses this event.
    }
    if (rewriters.length > 0) rewriteChain(event, 0);
  });

  const finish = (failure?: string) => {
    if (done) return;
    done = true;
    let summary: ResponseSummary;
    try {
      parser.end();
      summary = accumulator.finish();
    } catch (err) {
      summary = { usage: null, toolCalls: [], error: `could not parse stream: ${(err as Error).message}` };
    }
    const captured = Buffer.concat(capture);
    onDone({ summary, firstByteMs, captured, truncated, bytes, ...(failure ? { failure } : {}) });
  };

  const iterator = body[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        out = controller;
      },
      async pull(controller) {
        // A chunk that completes no event gives the client nothing; a pull that returned then would never be repeated.
        const before = sent;
        while (sent === before && !done) await step(controller);
      },
      cancel(reason) {
        finish(`client disconnected${reason instanceof Error ? `: ${reason.message}` : ""}`);
        body.destroy();
      },
    },
    // No read-ahead beyond what the client takes: backpressure reaches the upstream socket.
    { highWaterMark: 0 },
  );

  async function step(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    let result: IteratorResult<Uint8Array>;
    try {
      result = await iterator.next();
    } catch (err) {
      // The torn event is dropped: the client's stream ends with whole events and then the error.
      partial = null;
      const message = `upstream stream broke: ${(err as Error).message}`;
      const event = options.streamError(message);
      if (event) send(framing.serialize(event));
      controller.close();
      finish(message);
      return;
    }
    if (result.done) {
      // A body that ends without a final blank line still reaches the client whole.
      if (partial) send(partial);
      partial = null;
      if (rewriters.length > 0) {
        for (const [i, r] of rewriters.entries()) r.flush?.((e) => rewriteChain(e, i + 1));
      }
      controller.close();
      finish();
      return;
    }
    const chunk = result.value;
    firstByteMs ??= now() - started;
    bytes += chunk.byteLength;
    if (rewriters.length === 0) {
      // Whole events only: an event's bytes wait here until its end arrives, which a client needs anyway.
      const pending = partial ? Buffer.concat([partial, chunk]) : chunk;
      // An upstream that never ends an event must not make the gateway buffer its stream: pass it on as it is.
      const complete = pending.byteLength > MAX_PARTIAL_EVENT ? pending.byteLength : framing.completePrefix(pending);
      if (complete > 0) send(complete === pending.byteLength ? pending : pending.subarray(0, complete));
      partial = complete < pending.byteLength ? pending.subarray(complete) : null;
    }
    if (capturedBytes < captureLimit) {
      const room = captureLimit - capturedBytes;
      const piece = chunk.byteLength <= room ? chunk : chunk.subarray(0, room);
      capture.push(piece);
      capturedBytes += piece.byteLength;
      if (piece !== chunk) truncated = true;
    } else {
      truncated = true;
    }
    parser.feed(chunk);
  }
}
