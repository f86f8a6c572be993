// Translation between dialects of one model family only: Anthropic Messages ↔ Bedrock InvokeModel ↔ Vertex rawPredict
// carry the same body, with `anthropic_version` in the body instead of a header and the model (and streaming) in the
// path. What keyless translates: a client on Anthropic's Messages API to a Bedrock or Vertex target. Bedrock streams
// come back as AWS event-stream frames wrapping Anthropic events, re-framed here as the SSE the client expects.
// No other pair is translated (no cross-family translation at all): such targets are skipped.
import { Readable, Transform } from "node:stream";
import type { ProviderType } from "../config/providers.js";
import type { RouteDef } from "./routes.js";
import { eventStreamFraming } from "../stream/eventstream.js";

export interface Translation {
  /** The target's upstream path for this model. */
  path(model: string, stream: boolean): string;
  /** The target's body: a copy of the client's with the dialect's differences applied. */
  body(body: Readonly<Record<string, unknown>>, headers: Headers): Record<string, unknown>;
  /** Re-frames a streamed answer into the client's framing, with its content type; absent when they agree. */
  readonly stream?: { readonly contentType: string; reframe(body: Readable): Readable };
}

const BEDROCK_VERSION = "bedrock-2023-05-31";
const VERTEX_VERSION = "vertex-2023-10-16";

function withoutModel(body: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const { model: _model, ...rest } = body;
  return rest;
}

/** Bedrock takes betas in the body; Anthropic's SDKs send them as a header. */
function betas(headers: Headers): string[] {
  return (headers.get("anthropic-beta") ?? "").split(",").map((b) => b.trim()).filter((b) => b !== "");
}

/** AWS event-stream `chunk` frames ({"bytes": base64 Anthropic event}) → `event: <type>\ndata: <json>\n\n`. */
function eventStreamToSse(body: Readable): Readable {
  let out: string[] = [];
  const parser = eventStreamFraming.parser((event) => {
    if (event.name === "chunk") {
      const bytes = (JSON.parse(event.data) as { bytes?: string }).bytes ?? "";
      const inner = Buffer.from(bytes, "base64").toString("utf8");
      const type = (JSON.parse(inner) as { type?: string }).type ?? "message";
      out.push(`event: ${type}\ndata: ${inner}\n\n`);
    } else if (event.name?.startsWith("exception:") || event.name?.startsWith("error:")) {
      // A Bedrock failure mid-stream becomes the Anthropic error event SDKs raise.
      const message = event.name.startsWith("error:") ? event.data : ((JSON.parse(event.data) as { message?: string }).message ?? event.name);
      const error = { type: "error", error: { type: event.name.includes("hrottl") ? "rate_limit_error" : "api_error", message } };
      out.push(`event: error\ndata: ${JSON.stringify(error)}\n\n`);
    }
  });
  const reframed = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      try {
        parser.feed(chunk);
      } catch (err) {
        callback(err as Error);
        return;
      }
      const text = out.join("");
      out = [];
      callback(null, text === "" ? undefined : Buffer.from(text));
    },
  });
  body.on("error", (err) => reframed.destroy(err));
  reframed.on("close", () => body.destroy());
  return body.pipe(reframed);
}

const toBedrock: Translation = {
  path: (model, stream) => `/model/${encodeURIComponent(model)}/${stream ? "invoke-with-response-stream" : "invoke"}`,
  body(body, headers) {
    const { stream: _stream, ...rest } = withoutModel(body);
    const beta = betas(headers);
    headers.delete("anthropic-beta");
    headers.delete("anthropic-version");
    return { anthropic_version: BEDROCK_VERSION, ...rest, ...(beta.length > 0 ? { anthropic_beta: beta } : {}) };
  },
  stream: { contentType: "text/event-stream; charset=utf-8", reframe: eventStreamToSse },
};

const toVertex: Translation = {
  path: (model, stream) => `/v1/publishers/anthropic/models/${model}:${stream ? "streamRawPredict" : "rawPredict"}`,
  body(body, headers) {
    headers.delete("anthropic-version");
    return { anthropic_version: VERTEX_VERSION, ...withoutModel(body) };
  },
};

/** How a request on `route` reaches a provider of `type`, or null when keyless does not translate that pair. */
export function translationFor(route: RouteDef, type: ProviderType): Translation | null {
  if (route.id !== "anthropic.messages") return null;
  if (type === "bedrock") return toBedrock;
  if (type === "vertex") return toVertex;
  return null;
}
