// Passes a response body to the client chunk by chunk while a parser reads a copy, so usage and tool calls are
// known at the end without buffering the stream. With rewriters, the client gets re-serialized events instead. Every
// chunk is scrubbed first, in the same step (no async layer per chunk): the client, the capture and the parser read
// only scrubbed bytes.
import type { EventRewriter, StreamAccumulator } from "../formats/codec.js";
import type { WireEvent } from "../stream/framing.js";
import type { ResponseSummary } from "../formats/types.js";
import type { FrameParser, Framing } from "../stream/framing.js";
import type { StreamScrubber } from "./scrub.js";

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
  /** Removes provider secrets from each chunk before anything reads it (null: nothing to scrub). */
  readonly scrub: StreamScrubber | null;
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

/** Keeps the first `limit` bytes of a body, and whether it was cut. */
class ByteCapture {
  private readonly chunks: Uint8Array[] = [];
  private size = 0;
  truncated = false;

  constructor(private readonly limit: number) {}

  add(chunk: Uint8Array): void {
    if (this.size >= this.limit) {
      this.truncated = true;
      return;
    }
    const piece = chunk.byteLength <= this.limit - this.size ? chunk : chunk.subarray(0, this.limit - this.size);
    this.chunks.push(piece);
    this.size += piece.byteLength;
    if (piece !== chunk) this.truncated = true;
  }

  bytes(): Uint8Array {
    return Buffer.concat(this.chunks);
  }
}

/**
 * Whole events only (passthrough without rewriters): an event's bytes wait until its end arrives, which a client
 * needs anyway. An upstream that never ends an event must not make the gateway buffer its stream: past
 * MAX_PARTIAL_EVENT it is passed on as it is.
 */
class WholeEvents {
  private partial: Uint8Array | null = null;

  constructor(private readonly framing: Framing) {}

  /** The bytes that complete events, or null when the chunk completes none. */
  push(chunk: Uint8Array): Uint8Array | null {
    const pending = this.partial ? Buffer.concat([this.partial, chunk]) : chunk;
    const complete = pending.byteLength > MAX_PARTIAL_EVENT ? pending.byteLength : this.framing.completePrefix(pending);
    this.partial = complete < pending.byteLength ? pending.subarray(complete) : null;
    if (complete === 0) return null;
    return complete === pending.byteLength ? pending : pending.subarray(0, complete);
  }

  /** What is left at the end: a body that ends without a final blank line still reaches the client whole. */
  rest(): Uint8Array | null {
    const rest = this.partial;
    this.partial = null;
    return rest;
  }

  /** A torn event is dropped: the client's stream ends with whole events and then the error. */
  drop(): void {
    this.partial = null;
  }
}

/** One tapped response: the client's stream, the parser's copy, the capture, and the summary at the end. */
class Tap {
  private readonly now: () => number;
  private readonly started: number;
  private firstByteMs: number | null = null;
  private readonly capture: ByteCapture;
  private readonly whole: WholeEvents;
  private readonly parser: FrameParser;
  private readonly iterator: AsyncIterator<Uint8Array>;
  private bytes = 0;
  private done = false;
  private out: ReadableStreamDefaultController<Uint8Array> | null = null;
  /** Chunks handed to the client so far: a pull must not return before it hands one over or ends the stream. */
  private sent = 0;

  constructor(
    private readonly body: ByteSource,
    private readonly options: TapOptions,
  ) {
    this.now = options.now ?? (() => performance.now());
    this.started = this.now();
    this.capture = new ByteCapture(options.captureLimit);
    this.whole = new WholeEvents(options.framing);
    this.iterator = body[Symbol.asyncIterator]();
    this.parser = options.framing.parser((event) => {
      try {
        options.accumulator.push(event);
      } catch {
        // A parser bug must never break the client's stream; the summary just misses this event.
      }
      if (options.rewriters.length > 0) this.rewriteChain(event, 0);
    });
  }

  stream(): ReadableStream<Uint8Array> {
    return new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.out = controller;
        },
        pull: async (controller) => {
          // A chunk that completes no event gives the client nothing; a pull that returned then would never be repeated.
          const before = this.sent;
          while (this.sent === before && !this.done) await this.step(controller);
        },
        cancel: (reason) => {
          this.finish(`client disconnected${reason instanceof Error ? `: ${reason.message}` : ""}`);
          this.body.destroy();
        },
      },
      // No read-ahead beyond what the client takes: backpressure reaches the upstream socket.
      { highWaterMark: 0 },
    );
  }

  private send(bytes: Uint8Array): void {
    this.out?.enqueue(bytes);
    this.sent++;
  }

  private rewriteChain(event: WireEvent, index: number): void {
    const rewriter = this.options.rewriters[index];
    if (!rewriter) return this.send(this.options.framing.serialize(event));
    rewriter.rewrite(event, (e) => this.rewriteChain(e, index + 1));
  }

  private finish(failure?: string): void {
    if (this.done) return;
    this.done = true;
    let summary: ResponseSummary;
    try {
      this.parser.end();
      summary = this.options.accumulator.finish();
    } catch (err) {
      summary = { usage: null, toolCalls: [], error: `could not parse stream: ${(err as Error).message}` };
    }
    const { firstByteMs, bytes } = this;
    this.options.onDone({ summary, firstByteMs, captured: this.capture.bytes(), truncated: this.capture.truncated, bytes, ...(failure ? { failure } : {}) });
  }

  private async step(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    let result: IteratorResult<Uint8Array>;
    try {
      result = await this.iterator.next();
    } catch (err) {
      this.whole.drop();
      const message = `upstream stream broke: ${(err as Error).message}`;
      const event = this.options.streamError(message);
      if (event) this.send(this.options.framing.serialize(event));
      controller.close();
      this.finish(message);
      return;
    }
    if (result.done) return this.end(controller);
    const chunk = this.options.scrub ? this.options.scrub.push(result.value) : result.value;
    if (chunk.byteLength > 0) this.take(chunk);
  }

  /** A scrubbed chunk: to the client (whole events), the capture and the parser. */
  private take(chunk: Uint8Array): void {
    this.firstByteMs ??= this.now() - this.started;
    this.bytes += chunk.byteLength;
    if (this.options.rewriters.length === 0) {
      const complete = this.whole.push(chunk);
      if (complete) this.send(complete);
    }
    this.capture.add(chunk);
    this.parser.feed(chunk);
  }

  private end(controller: ReadableStreamDefaultController<Uint8Array>): void {
    // The scrubber's held-back tail (what might have been the start of a secret), scrubbed.
    const held = this.options.scrub?.end();
    if (held && held.byteLength > 0) this.take(held);
    const rest = this.whole.rest();
    if (rest) this.send(rest);
    const { rewriters } = this.options;
    for (const [i, r] of rewriters.entries()) r.flush?.((e) => this.rewriteChain(e, i + 1));
    controller.close();
    this.finish();
  }
}

export function tapStream(body: ByteSource, options: TapOptions): ReadableStream<Uint8Array> {
  return new Tap(body, options).stream();
}
