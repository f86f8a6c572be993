// Builds the client's response from the upstream's: streams pass through the scrubber and the tap chunk by chunk;
// complete bodies are read, scrubbed of provider secrets, offered to the plugins' rewriters, and returned. Headers and
// what is recorded (tool calls, errors, captures) are scrubbed too. Recording waits for the end.
import type { EventRewriter } from "../formats/codec.js";
import type { ResponseSummary } from "../formats/types.js";
import type { Capture } from "../store/requests.js";
import type { Framing } from "../stream/framing.js";
import { framingFor } from "../stream/index.js";
import { asBodyInit } from "../http/read-body.js";
import type { Exchange } from "./exchange.js";
import type { ProxyDeps } from "./deps.js";
import { clientResponseHeaders, redactedHeaders, scrubbedHeaders } from "./headers.js";
import { type RequestBase, recordExchange, refuseExchange } from "./record.js";
import { type Scrubber, scrubSummary, scrubberFor } from "./scrub.js";
import { streamScrubber } from "./scrub-stream.js";
import { type TapResult, tapStream } from "./tap.js";
import { type UpstreamResponse, describeUpstreamError } from "./upstream.js";

const decoder = new TextDecoder();
const encoder = new TextEncoder();

export interface RespondInput {
  readonly deps: ProxyDeps;
  readonly base: RequestBase;
  readonly ex: Exchange;
  readonly req: Request;
  readonly upstream: UpstreamResponse;
  readonly rewriters: readonly EventRewriter[];
  /** What was sent upstream (captured as the request body). */
  readonly requestBytes: Uint8Array;
  /** Milliseconds from arrival to the upstream's response headers. */
  readonly headersAt: number;
}

function baseType(contentType: string | null): string {
  return (contentType ?? "").split(";")[0]!.trim().toLowerCase();
}

/** What the log's capture holds, given the response body as the client got it. */
type CaptureOf = (responseBody: Uint8Array | null, truncated: boolean) => Capture;

export async function respond(input: RespondInput): Promise<Response> {
  const { deps, ex, req, upstream, requestBytes } = input;
  const scrubber = scrubberFor([...ex.provider.adapter.secrets(ex.provider.config), ...ex.clientSecrets]);
  const upstreamHeaders = scrubbedHeaders(upstream.headers, scrubber);
  const responseHeaders = clientResponseHeaders(upstreamHeaders);
  responseHeaders.set("x-keyless-request-id", ex.id);
  const limit = deps.config.database.capture_limit;
  const capture: CaptureOf = (responseBody, truncated) => ({
    requestHeaders: redactedHeaders(req.headers),
    requestBody: requestBytes.subarray(0, limit),
    requestTruncated: requestBytes.byteLength > limit,
    responseHeaders: redactedHeaders(upstreamHeaders),
    responseBody,
    responseTruncated: truncated,
  });

  const contentType = upstream.headers.get("content-type");
  const ok = upstream.status >= 200 && upstream.status < 300;
  if (ok && (ex.stream || deps.framings.has(baseType(contentType)))) {
    const framing = framingFor(contentType, deps.framings, limit * 4);
    return new Response(streamed(input, scrubber, framing, capture), { status: upstream.status, headers: responseHeaders });
  }
  return whole(input, scrubber, responseHeaders, capture);
}

/** A stream (or a body in a framing keyless reads event by event): tapped on its way to the client. */
function streamed({ deps, base, ex, upstream, rewriters, headersAt }: RespondInput, scrubber: Scrubber, framing: Framing, capture: CaptureOf): ReadableStream<Uint8Array> {
  return tapStream(upstream.body, {
    framing,
    scrub: streamScrubber(scrubber, framing),
    accumulator: ex.format.accumulator(),
    rewriters,
    captureLimit: deps.config.database.capture_limit,
    streamError: ex.format.streamError,
    onDone: (result: TapResult) => {
      // The tap read scrubbed bytes; what its parser made of them is scrubbed again once decoded.
      const summary = scrubSummary(result.summary, scrubber);
      const failure = result.failure === undefined ? undefined : scrubber.text(result.failure);
      setImmediate(() =>
        recordExchange(deps, base, ex, {
          status: upstream.status,
          durationMs: performance.now() - base.started,
          firstByteMs: result.firstByteMs === null ? null : result.firstByteMs + headersAt,
          summary,
          streamed: true,
          error: failure ?? summary.error,
          capture: capture(result.captured, result.truncated),
        }),
      );
    },
  });
}

/** A whole body: read, scrubbed, parsed, offered to the plugins' rewriteResponse, then sent. */
async function whole({ deps, base, ex, upstream, requestBytes, headersAt }: RespondInput, scrubber: Scrubber, responseHeaders: Headers, capture: CaptureOf): Promise<Response> {
  const ok = upstream.status >= 200 && upstream.status < 300;
  let raw: Uint8Array;
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of upstream.body) chunks.push(chunk as Buffer);
    raw = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  } catch (err) {
    return refuseExchange(ex, base, { kind: "upstream", message: `upstream ${ex.provider.name} broke off its response: ${describeUpstreamError(err)}`, category: "upstream" }, requestBytes, deps);
  }
  let responseBytes = scrubber.bytes(raw);
  let summary: ResponseSummary = { usage: null, toolCalls: [] };
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(responseBytes));
    summary = scrubSummary(ex.format.parseResponse(parsed), scrubber);
  } catch {
    // Not JSON (an HTML error page, say): passed through as is, logged without usage.
  }
  if (ok && parsed !== undefined) {
    for (const plugin of deps.plugins) {
      const replaced = plugin.rewriteResponse?.(ex, parsed, summary);
      if (replaced !== undefined) {
        parsed = replaced;
        responseBytes = encoder.encode(JSON.stringify(replaced));
      }
    }
  }
  responseHeaders.delete("content-length");
  const durationMs = performance.now() - base.started;
  const limit = deps.config.database.capture_limit;
  setImmediate(() =>
    recordExchange(deps, base, ex, {
      status: upstream.status,
      durationMs,
      firstByteMs: headersAt,
      summary,
      streamed: false,
      error: ok ? summary.error : (summary.error ?? `upstream status ${upstream.status}`),
      capture: capture(responseBytes.subarray(0, limit), responseBytes.byteLength > limit),
    }),
  );
  return new Response(upstream.status === 204 || upstream.status === 304 ? null : asBodyInit(responseBytes), {
    status: upstream.status,
    headers: responseHeaders,
  });
}
