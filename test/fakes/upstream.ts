// A fake provider upstream on loopback that speaks Anthropic's, OpenAI's and Gemini's wire formats, checks the
// provider key like the real services do, and records every request it receives. It asks for a shell command, and
// answers with text once the request reports that command's result (and JSON-mode requests with JSON), so a real
// agent's tool loop ends.
import { type ServerType, serve } from "@hono/node-server";
import { Hono } from "hono";
import type { AddressInfo } from "node:net";
import { capture, withModel } from "./fixtures.js";
import {
  anthropicTextMessage,
  anthropicTextStream,
  geminiJsonChunk,
  geminiTextChunk,
  reportsToolResult,
  responsesTextFinal,
  responsesTextStream,
} from "./replies.js";

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export type Responder = (req: RecordedRequest) => Response | Promise<Response>;

export interface FakeUpstream {
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Answers the next request whose path matches with `responder` (once), before the defaults. */
  once(path: RegExp, responder: Responder): void;
  close(): Promise<void>;
}

export interface FakeUpstreamOptions {
  /** Keys the fake accepts, per provider. */
  readonly keys: { readonly anthropic?: string; readonly openai?: string; readonly gemini?: string };
}

export function sseResponse(text: string, init: { chunkDelayMs?: number; status?: number } = {}): Response {
  const events = text.split(/(?<=\n\n)/);
  const encoder = new TextEncoder();
  const stream = new ReadableStream<Uint8Array>({
    async start(controller) {
      for (const event of events) {
        if (init.chunkDelayMs) await new Promise((r) => setTimeout(r, init.chunkDelayMs));
        controller.enqueue(encoder.encode(event));
      }
      controller.close();
    },
  });
  return new Response(stream, { status: init.status ?? 200, headers: { "content-type": "text/event-stream; charset=utf-8" } });
}

function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
}

type Body = Record<string, unknown>;

function parse(body: string): Body {
  try {
    return JSON.parse(body) as Body;
  } catch {
    return {};
  }
}

const anthropicMessage = (model: string) => JSON.parse(withModel(capture("fixtures/anthropic-messages-tool_use.json"), "claude-x", model)) as Body;

function chatStream(model: string, includeUsage: boolean): string {
  const events = withModel(capture("fixtures/openai-chat-tool_calls.sse"), "gpt-x", model).split(/(?<=\n\n)/);
  // Real OpenAI sends the usage chunk only when the client asked for it.
  return events.filter((e) => includeUsage || !e.includes('"choices":[]')).join("");
}

const chatCompletion = (model: string) => ({
  id: "chatcmpl-fake",
  object: "chat.completion",
  created: 1795714155,
  model,
  choices: [
    {
      index: 0,
      message: {
        role: "assistant",
        content: null,
        tool_calls: [{ id: "call_fake01", type: "function", function: { name: "shell", arguments: '{"command":["bash","-lc","echo hello"]}' } }],
      },
      finish_reason: "tool_calls",
    },
  ],
  usage: { prompt_tokens: 20, completion_tokens: 5, total_tokens: 25, prompt_tokens_details: { cached_tokens: 0 } },
});

function responsesFinal(model: string): Body {
  const stream = withModel(capture("fixtures/openai-responses-function_call.sse"), "gpt-x", model);
  const completed = stream.split("\n").find((l) => l.startsWith("data: ") && l.includes('"response.completed"'));
  return (JSON.parse(completed!.slice(6)) as { response: Body }).response;
}

export async function startFakeUpstream(options: FakeUpstreamOptions): Promise<FakeUpstream> {
  const requests: RecordedRequest[] = [];
  const queued: { path: RegExp; responder: Responder }[] = [];
  const app = new Hono();

  app.use("*", async (c, next) => {
    const url = new URL(c.req.url);
    const headers: Record<string, string> = {};
    c.req.raw.headers.forEach((v, k) => (headers[k] = v));
    const rec: RecordedRequest = { method: c.req.method, path: url.pathname, query: url.search, headers, body: await c.req.text() };
    requests.push(rec);
    const i = queued.findIndex((q) => q.path.test(rec.path));
    if (i !== -1) return queued.splice(i, 1)[0]!.responder(rec);
    c.set("rec" as never, rec as never);
    await next();
  });
  const rec = (c: { get: (k: never) => unknown }) => c.get("rec" as never) as RecordedRequest;

  // Anthropic's API takes the key as x-api-key or as a bearer token (the 1.x SDK sends either).
  const anthropicAuth = (r: RecordedRequest) =>
    r.headers["x-api-key"] === options.keys.anthropic || r.headers.authorization === `Bearer ${options.keys.anthropic}`
      ? null
      : json({ type: "error", error: { type: "authentication_error", message: "invalid x-api-key" } }, 401);
  app.post("/v1/messages", (c) => {
    const r = rec(c);
    const denied = anthropicAuth(r);
    if (denied) return denied;
    const body = parse(r.body);
    const model = String(body.model);
    const done = reportsToolResult("anthropic", body);
    if (body.stream === true) return sseResponse(done ? anthropicTextStream(model) : withModel(capture("fixtures/anthropic-messages-tool_use.sse"), "claude-x", model));
    return json(done ? anthropicTextMessage(model) : anthropicMessage(model), 200, { "request-id": "req_fake" });
  });
  app.post("/v1/messages/count_tokens", (c) => anthropicAuth(rec(c)) ?? json({ input_tokens: 42 }));

  const openaiAuth = (r: RecordedRequest) =>
    r.headers.authorization === `Bearer ${options.keys.openai}`
      ? null
      : json({ error: { message: "Incorrect API key provided.", type: "invalid_request_error", param: null, code: "invalid_api_key" } }, 401);
  app.post("/v1/chat/completions", (c) => {
    const r = rec(c);
    const denied = openaiAuth(r);
    if (denied) return denied;
    const body = parse(r.body);
    const model = String(body.model);
    if (body.stream === true) {
      const opts = body.stream_options as { include_usage?: boolean } | undefined;
      return sseResponse(chatStream(model, opts?.include_usage === true));
    }
    return json(chatCompletion(model));
  });
  app.post("/v1/responses", (c) => {
    const r = rec(c);
    const denied = openaiAuth(r);
    if (denied) return denied;
    const body = parse(r.body);
    const model = String(body.model);
    const done = reportsToolResult("responses", body);
    if (body.stream === true) return sseResponse(done ? responsesTextStream(model) : withModel(capture("fixtures/openai-responses-function_call.sse"), "gpt-x", model));
    return json(done ? responsesTextFinal(model) : responsesFinal(model));
  });

  app.post("/:version/models/:call", (c) => {
    const r = rec(c);
    if (r.headers["x-goog-api-key"] !== options.keys.gemini || r.query.includes("key=")) {
      return json({ error: { code: 403, message: "API key not valid.", status: "PERMISSION_DENIED" } }, 403);
    }
    const [model = "", method] = c.req.param("call").split(":");
    const body = parse(r.body);
    const scripted = geminiJsonChunk(model, body.generationConfig) ?? (reportsToolResult("gemini", body) ? geminiTextChunk(model) : null);
    const sse = scripted ? `data: ${JSON.stringify(scripted)}\n\n` : withModel(capture("fixtures/gemini-functionCall.sse"), "gemini-x", model);
    const chunk = JSON.parse(sse.trim().slice("data: ".length)) as Body;
    if (method === "countTokens") return json({ totalTokens: 42 });
    if (method === "streamGenerateContent") return r.query.includes("alt=sse") ? sseResponse(sse) : json([chunk]);
    return json(chunk);
  });

  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }, () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    once: (path, responder) => queued.push({ path, responder }),
    close: () =>
      new Promise((resolve) => {
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
