// Codex's Responses WebSocket transport (`GET /v1/responses` upgraded; `openai-beta: responses_websockets=…`). Each
// `response.create` message is one Responses request: keyless runs it through its own HTTP request path (identity,
// grants, rate limits, budgets, hooks, guardrails, fallbacks, logging, tool-call extraction: the row is the HTTP row,
// flagged "websocket") and relays the streamed events back, one JSON text message each, as the Responses WebSocket
// does. Upstream the provider is called over its HTTP API, so every upstream and fallback target works.
// The connection keeps what Codex relies on the server to keep: the last response's input and output, so a request
// that names it as `previous_response_id` and sends only the new items reaches the provider whole (`store: false`
// responses cannot be looked up upstream); and `generate: false` (Codex's prewarm) is answered here, with no output.
import { randomUUID } from "node:crypto";
import { IncomingMessage } from "node:http";
import type { WebSocket } from "ws";
import { eventJson } from "../stream/framing.js";
import { sseFraming } from "../stream/sse.js";

/** Runs one synthetic HTTP request through the gateway's app, as if it came over the upgraded connection. */
export type AppFetch = (request: Request, incoming: IncomingMessage) => Promise<Response>;

export interface ResponsesSocketDeps {
  readonly fetch: AppFetch;
  /** The upgrade request: its socket identifies the caller, its headers go with every message's request. */
  readonly upgrade: IncomingMessage;
  /** Headers objects of the synthetic requests, so the request path can tell (and flag) the transport. */
  readonly marked: WeakSet<Headers>;
  readonly onError: (err: unknown, context: string) => void;
}

/** Headers of the upgrade that describe the WebSocket, not the requests carried over it. */
const UPGRADE_ONLY = /^(connection|upgrade|sec-websocket-.*|content-length|content-type|accept|accept-encoding|transfer-encoding)$/;
/** Error headers an SDK acts on, passed to the client inside the error event. */
const ERROR_HEADERS = /^(retry-after|retry-after-ms|x-should-retry|x-ratelimit-.*|x-keyless-request-id)$/;

type Json = Record<string, unknown>;
const isRecord = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

interface LastResponse {
  readonly id: string;
  readonly input: readonly unknown[];
  readonly output: readonly unknown[];
}

function errorEvent(status: number, error: Json, headers: Record<string, string> = {}): string {
  return JSON.stringify({ type: "error", status, error, headers });
}

/** The upgrade's headers that go with every request carried over the socket. */
function carriedHeaders(upgrade: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(upgrade.headers)) {
    if (value === undefined || UPGRADE_ONLY.test(name)) continue;
    headers.set(name, Array.isArray(value) ? value.join(", ") : value);
  }
  return headers;
}

/** A message's input with the last response's input and output before it, when it names that response. */
function inputOf(rest: Json, previous: unknown, last: LastResponse | null): unknown[] | { readonly error: string } {
  const input: unknown[] = Array.isArray(rest.input) ? rest.input : typeof rest.input === "string" ? [{ role: "user", content: rest.input }] : [];
  if (typeof previous !== "string") return input;
  if (last?.id !== previous) return { error: `previous_response_id "${previous.slice(0, 80)}" is not the last response on this connection` };
  return [...last.input, ...last.output, ...input];
}

/** `generate: false` (Codex's prewarm): nothing to generate, so nothing is forwarded; answered here, with no output. */
function prewarmEvents(model: unknown): { readonly events: readonly string[]; readonly id: string } {
  const response = { id: `resp_${randomUUID().replaceAll("-", "")}`, object: "response", created_at: Math.floor(Date.now() / 1000), status: "completed", model, output: [], usage: { input_tokens: 0, output_tokens: 0, total_tokens: 0 } };
  const events = [JSON.stringify({ type: "response.created", sequence_number: 0, response: { ...response, status: "in_progress" } }), JSON.stringify({ type: "response.completed", sequence_number: 1, response })];
  return { events, id: response.id };
}

/** Runs one Responses request through the gateway's app, as an HTTP request on the upgraded connection's socket. */
function forward(deps: ResponsesSocketDeps, url: string, base: Headers, body: string, signal: AbortSignal): Promise<Response> {
  const headers = new Headers(base);
  headers.set("content-type", "application/json");
  headers.set("accept", "text/event-stream");
  headers.set("content-length", String(Buffer.byteLength(body)));
  const request = new Request(url, { method: "POST", headers, body, signal });
  deps.marked.add(request.headers);
  const incoming = new IncomingMessage(deps.upgrade.socket);
  // A complete message: reading it to its end must not tear down the socket it shares with the WebSocket.
  incoming.complete = true;
  incoming.push(Buffer.from(body));
  incoming.push(null);
  return deps.fetch(request, incoming);
}

/** An error answer as one error event: the provider-shaped error object and the headers an SDK acts on. */
async function errorEventOf(response: Response): Promise<string> {
  const text = await response.text();
  let error: Json = { type: "api_error", message: text.slice(0, 1000) };
  try {
    const parsed: unknown = JSON.parse(text);
    if (isRecord(parsed) && isRecord(parsed.error)) error = parsed.error;
  } catch {
    // Not JSON: its text is the message.
  }
  const passed: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    if (ERROR_HEADERS.test(name)) passed[name] = value;
  });
  return errorEvent(response.status, error, passed);
}

/** Relays each streamed event as one text message; returns the completed response, if one came. */
async function relayEvents(body: ReadableStream<Uint8Array>, send: (text: string) => void): Promise<Json | null> {
  let completed: Json | null = null;
  const parser = sseFraming.parser((event) => {
    send(event.data);
    if (event.name !== "response.completed" && !event.data.includes('"response.completed"')) return;
    // Relayed as is when it is not JSON; the next request cannot build on it.
    const parsed = eventJson(event);
    if (isRecord(parsed) && parsed.type === "response.completed" && isRecord(parsed.response)) completed = parsed.response;
  });
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parser.feed(value);
  }
  return completed;
}

/** A client message as a JSON object, or the error event that answers it (none: ignored). */
function parseMessage(data: { toString(): string }, isBinary: boolean): { readonly message: Json } | { readonly reply?: string } {
  if (isBinary) return { reply: errorEvent(400, { type: "invalid_request_error", message: "keyless expects JSON text messages" }) };
  let message: unknown;
  try {
    message = JSON.parse(data.toString());
  } catch {
    return { reply: errorEvent(400, { type: "invalid_request_error", message: "message is not valid JSON" }) };
  }
  return isRecord(message) ? { message } : {};
}

export function serveResponsesSocket(ws: WebSocket, deps: ResponsesSocketDeps): void {
  const url = `http://${deps.upgrade.headers.host ?? "localhost"}/v1/responses`;
  const baseHeaders = carriedHeaders(deps.upgrade);
  const closed = new AbortController();
  ws.on("close", () => closed.abort(new Error("client closed the WebSocket")));
  let last: LastResponse | null = null;
  // Codex waits for each response before its next request; messages are still handled one at a time.
  let queue: Promise<void> = Promise.resolve();

  const send = (text: string) => {
    if (ws.readyState === ws.OPEN) ws.send(text);
  };

  const create = async (message: Json) => {
    const { type: _type, generate, previous_response_id: previous, ...rest } = message;
    const input = inputOf(rest, previous, last);
    if (!Array.isArray(input)) {
      send(errorEvent(400, { type: "invalid_request_error", code: "previous_response_not_found", message: input.error }));
      return;
    }
    if (generate === false) {
      const prewarm = prewarmEvents(rest.model);
      for (const event of prewarm.events) send(event);
      last = { id: prewarm.id, input, output: [] };
      return;
    }
    const response = await forward(deps, url, baseHeaders, JSON.stringify({ ...rest, input, stream: true }), closed.signal);
    if (!response.ok || !response.body) {
      send(await errorEventOf(response));
      return;
    }
    const done = await relayEvents(response.body, send);
    if (done && typeof done.id === "string") last = { id: done.id, input, output: Array.isArray(done.output) ? done.output : [] };
  };

  const handle = async (message: Json) => {
    // Acknowledgements of a response the client has processed: nothing to do for a gateway.
    if (message.type === "response.processed") return;
    if (message.type !== "response.create") {
      send(errorEvent(400, { type: "invalid_request_error", message: `unsupported message type "${String(message.type).slice(0, 80)}"` }));
      return;
    }
    try {
      await create(message);
    } catch (err) {
      if (closed.signal.aborted) return;
      deps.onError(err, "responses websocket");
      send(errorEvent(500, { type: "api_error", message: "internal gateway error" }));
    }
  };

  ws.on("message", (data, isBinary) => {
    queue = queue.then(async () => {
      const parsed = parseMessage(data, isBinary);
      if ("message" in parsed) await handle(parsed.message);
      else if (parsed.reply !== undefined) send(parsed.reply);
    });
  });
}
