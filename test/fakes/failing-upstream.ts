// An upstream on plain node:http that fails on cue, in the exact wire shapes Anthropic uses: 529 with an
// overloaded_error body, 429 with retry-after and anthropic-ratelimit-* headers, a connection reset before any header,
// a 200 stream that opens with an overloaded error event, a stream that breaks with a 500 api_error after its first
// event. OpenAI (Responses, chat completions) and Gemini paths fail in their providers' shapes: 503 overloaded, 429
// with retry-after (and x-ratelimit-* on OpenAI), 401, a reset. Anything not scripted is answered normally with text
// (JSON or SSE). Every request is recorded with the key it carried, any key is accepted.
import { type IncomingMessage, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { FINAL_TEXT, anthropicTextMessage, anthropicTextStream, geminiTextChunk, responsesTextFinal, responsesTextStream } from "./replies.js";

export type Failure =
  | { readonly kind: "overloaded" }
  | { readonly kind: "rate_limited"; readonly retryAfterSeconds: number }
  | { readonly kind: "unauthorized" }
  | { readonly kind: "reset" }
  | { readonly kind: "stream_opens_overloaded" }
  | { readonly kind: "error_after_first_event" };

export interface FailingRequest {
  readonly path: string;
  readonly key: string | null;
  readonly body: Record<string, unknown>;
}

export interface FailingUpstream {
  readonly url: string;
  readonly requests: FailingRequest[];
  /** The next request (carrying `key`, when given) fails this way; scripts are used in order. */
  fail(failure: Failure, key?: string): void;
  /** Requests carrying `key` fail this way until cleared. */
  failAlways(key: string, failure: Failure | null): void;
  close(): Promise<void>;
}

const anthropicError = (type: string, message: string) => JSON.stringify({ type: "error", error: { type, message } });

type Dialect = "anthropic" | "openai" | "gemini";

const dialectOf = (path: string): Dialect => (path.startsWith("/v1/messages") ? "anthropic" : /\/models\/[^/]+:\w+/.test(path) ? "gemini" : "openai");

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(body);
}

const chatTextCompletion = (model: string) => ({
  id: "chatcmpl-failing",
  object: "chat.completion",
  created: 1795714155,
  model,
  choices: [{ index: 0, message: { role: "assistant", content: FINAL_TEXT }, finish_reason: "stop" }],
  usage: { prompt_tokens: 20, completion_tokens: 5, total_tokens: 25 },
});

function answer(res: ServerResponse, path: string, body: Record<string, unknown>): void {
  const sse = (text: string) => {
    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8" });
    res.end(text);
  };
  const dialect = dialectOf(path);
  if (dialect === "gemini") {
    const model = /\/models\/([^/:]+):/.exec(path)![1]!;
    if (path.includes(":streamGenerateContent")) return sse(`data: ${JSON.stringify(geminiTextChunk(model))}\n\n`);
    return send(res, 200, JSON.stringify(geminiTextChunk(model)));
  }
  const model = String(body.model ?? "model-x");
  if (dialect === "openai") {
    if (path.startsWith("/v1/chat/completions")) return send(res, 200, JSON.stringify(chatTextCompletion(model)));
    return body.stream === true ? sse(responsesTextStream(model)) : send(res, 200, JSON.stringify(responsesTextFinal(model)));
  }
  if (body.stream === true) return sse(anthropicTextStream(model));
  send(res, 200, JSON.stringify(anthropicTextMessage(model)), { "request-id": "req_failing" });
}

const openaiError = (message: string, type: string, code: string | null) => JSON.stringify({ error: { message, type, param: null, code } });
const googleError = (code: number, status: string, message: string) => JSON.stringify({ error: { code, message, status } });

/** A failure on an OpenAI or Gemini path, in that provider's shape; false for kinds only Anthropic's fake knows. */
function failOther(dialect: Exclude<Dialect, "anthropic">, failure: Failure, res: ServerResponse): boolean {
  const openai = dialect === "openai";
  switch (failure.kind) {
    case "overloaded":
      if (openai) send(res, 503, openaiError("The engine is currently overloaded, please try again later.", "server_error", null));
      else send(res, 503, googleError(503, "UNAVAILABLE", "The model is overloaded. Please try again later."));
      return true;
    case "rate_limited": {
      const wait = String(failure.retryAfterSeconds);
      if (openai) {
        const limits = { "x-ratelimit-limit-requests": "500", "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": `${wait}s` };
        send(res, 429, openaiError("Rate limit reached for requests per min (RPM): Limit 500, Used 500.", "requests", "rate_limit_exceeded"), { "retry-after": wait, ...limits });
      } else send(res, 429, googleError(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."), { "retry-after": wait });
      return true;
    }
    case "unauthorized":
      if (openai) send(res, 401, openaiError("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"));
      else send(res, 400, googleError(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key."));
      return true;
    default:
      return false;
  }
}

function failWith(failure: Failure, req: IncomingMessage, res: ServerResponse, body: Record<string, unknown>): void {
  const dialect = dialectOf(req.url ?? "");
  if (failure.kind === "reset") {
    req.socket.destroy();
    return;
  }
  if (dialect !== "anthropic") {
    if (!failOther(dialect, failure, res)) throw new Error(`the failing upstream scripts ${failure.kind} only on Anthropic paths`);
    return;
  }
  switch (failure.kind) {
    case "overloaded":
      res.writeHead(529, { "content-type": "application/json", "x-should-retry": "true" });
      res.end(anthropicError("overloaded_error", "Overloaded"));
      return;
    case "rate_limited": {
      const reset = new Date(Date.now() + failure.retryAfterSeconds * 1000).toISOString();
      res.writeHead(429, {
        "content-type": "application/json",
        "retry-after": String(failure.retryAfterSeconds),
        "anthropic-ratelimit-requests-limit": "50",
        "anthropic-ratelimit-requests-remaining": "0",
        "anthropic-ratelimit-requests-reset": reset,
      });
      res.end(anthropicError("rate_limit_error", "This request would exceed your organization's rate limit."));
      return;
    }
    case "unauthorized":
      res.writeHead(401, { "content-type": "application/json" });
      res.end(anthropicError("authentication_error", "invalid x-api-key"));
      return;
    case "stream_opens_overloaded":
      res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8" });
      res.end(`event: error\ndata: ${anthropicError("overloaded_error", "Overloaded")}\n\n`);
      return;
    case "error_after_first_event": {
      const first = anthropicTextStream(String(body.model ?? "claude-x")).split(/(?<=\n\n)/)[0]!;
      res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8" });
      res.write(first);
      setTimeout(() => res.end(`event: error\ndata: ${anthropicError("api_error", "Internal server error")}\n\n`), 20);
      return;
    }
  }
}

export async function startFailingUpstream(): Promise<FailingUpstream> {
  const requests: FailingRequest[] = [];
  const scripts: { failure: Failure; key?: string }[] = [];
  const always = new Map<string, Failure>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
      } catch {
        // Recorded as empty.
      }
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
      const key = (req.headers["x-api-key"] as string | undefined) ?? bearer ?? (req.headers["x-goog-api-key"] as string | undefined) ?? null;
      requests.push({ path: req.url ?? "", key, body });
      const i = scripts.findIndex((s) => s.key === undefined || s.key === key);
      const scripted = i === -1 ? (key === null ? undefined : always.get(key)) : scripts.splice(i, 1)[0]!.failure;
      if (scripted) failWith(scripted, req, res, body);
      else answer(res, req.url ?? "", body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    fail: (failure, key) => scripts.push(key === undefined ? { failure } : { failure, key }),
    failAlways: (key, failure) => (failure ? always.set(key, failure) : always.delete(key)),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
