// An Anthropic upstream on plain node:http that fails on cue, in the exact wire shapes Anthropic uses: 529 with an
// overloaded_error body, 429 with retry-after and anthropic-ratelimit-* headers, a connection reset before any header,
// a 200 stream that opens with an overloaded error event, a stream that breaks with a 500 api_error after its first
// event. Anything not scripted is answered normally (JSON or SSE). Every request is recorded with the key it carried.
import { type IncomingMessage, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { anthropicTextMessage, anthropicTextStream } from "./replies.js";

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

function answer(res: ServerResponse, body: Record<string, unknown>): void {
  const model = String(body.model ?? "claude-x");
  if (body.stream === true) {
    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "request-id": "req_failing" });
    res.end(anthropicTextStream(model));
    return;
  }
  res.writeHead(200, { "content-type": "application/json", "request-id": "req_failing" });
  res.end(JSON.stringify(anthropicTextMessage(model)));
}

function failWith(failure: Failure, req: IncomingMessage, res: ServerResponse, body: Record<string, unknown>): void {
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
    case "reset":
      req.socket.destroy();
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
      const key = (req.headers["x-api-key"] as string | undefined) ?? null;
      requests.push({ path: req.url ?? "", key, body });
      const i = scripts.findIndex((s) => s.key === undefined || s.key === key);
      const scripted = i === -1 ? (key === null ? undefined : always.get(key)) : scripts.splice(i, 1)[0]!.failure;
      if (scripted) failWith(scripted, req, res, body);
      else answer(res, body);
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
