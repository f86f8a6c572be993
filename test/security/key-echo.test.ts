// Issue 11, hole 6: an upstream that echoes the provider key, in every way a byte can come back — streamed (Anthropic,
// OpenAI chat, Responses, Gemini SSE, Bedrock event-stream with base64 chunk bytes, Converse), cut across two writes,
// SSE for a non-stream request, response headers, JSON escapes, `\/`, URL-encoding, base64 — must not leak it to the
// client (the official SDKs), the log rows, tool calls, captures, the admin API, the UI or the raw SQLite files.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import http from "node:http";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { BedrockRuntimeClient, ConverseStreamCommand, InvokeModelWithResponseStreamCommand } from "@aws-sdk/client-bedrock-runtime";
import { GoogleGenAI } from "@google/genai";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import OpenAI from "openai";
import { getGlobalDispatcher, setGlobalDispatcher } from "undici";
import { EventStreamCodec } from "@smithy/eventstream-codec";
import { fromUtf8, toUtf8 } from "@smithy/util-utf8";
import { encodeMessage } from "../../gateway/stream/eventstream.js";
import { type Harness, KEYS, defaultProviders, sourceAgent, startHarness } from "../helpers/gateway.js";
import { waitFor } from "../helpers/wait.js";
import { echoForms, findKey } from "./encodings.js";

const PEER = "127.0.0.2";
/** The gateway's AWS secret: a "/" and a "+" in it, as real ones have, so `\/` and base64 matter. */
const AWS_SECRET = "CANARY/aws+secret/0123456789abcdefXYZ";
const ALL_KEYS = [...Object.values(KEYS), AWS_SECRET];
const BEDROCK_MODEL = "us.anthropic.claude-sonnet-4-6-v1:0";

const forms = (key: string) => echoForms(key);
const codec = new EventStreamCodec(toUtf8, fromUtf8);
const str = (value: string) => ({ type: "string" as const, value });

/**
 * A response written in pieces with a pause between writes: cut in the middle of every occurrence of each string in
 * `cut`, or every `cut` bytes.
 */
function inPieces(body: string | Uint8Array, contentType: string, cut: readonly string[] | number, headers: Record<string, string> = {}): Response {
  const bytes = Buffer.from(body);
  const cuts = new Set<number>();
  if (typeof cut === "number") for (let at = cut; at < bytes.length; at += cut) cuts.add(at);
  else
    for (const needle of cut) {
      const n = Buffer.from(needle);
      for (let at = bytes.indexOf(n); at !== -1; at = bytes.indexOf(n, at + 1)) cuts.add(at + Math.floor(n.length / 2));
    }
  const bounds = [0, ...[...cuts].sort((a, b) => a - b), bytes.length];
  const stream = new ReadableStream<Uint8Array>({
    async start(controller) {
      for (let i = 0; i + 1 < bounds.length; i++) {
        controller.enqueue(bytes.subarray(bounds[i], bounds[i + 1]));
        await new Promise((r) => setTimeout(r, 5));
      }
      controller.close();
    },
  });
  return new Response(stream, { headers: { "content-type": contentType, ...headers } });
}

const sse = (events: readonly { event?: string; data: unknown }[]) =>
  events.map(({ event, data }) => `${event ? `event: ${event}\n` : ""}data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`).join("");

/** An Anthropic Messages stream whose text and tool input carry `key` raw, JSON-escaped and JSON-in-JSON. */
function anthropicEvents(key: string, model: string) {
  const f = forms(key);
  const toolInput = `{"command":"echo ${key} ${f["JSON in JSON"]}"}`;
  return [
    { event: "message_start", data: { type: "message_start", message: { id: "msg_echo", type: "message", role: "assistant", model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 10, output_tokens: 1 } } } },
    { event: "content_block_start", data: { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } } },
    { event: "content_block_delta", data: { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: `raw ${key} ` } } },
    // Written by hand: JSON.stringify would not escape "-" as \u002d.
    { event: "content_block_delta", data: `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"escaped ${f["every char \\uXXXX"]} ${f["json \\u002D"]}"}}` },
    { event: "content_block_stop", data: { type: "content_block_stop", index: 0 } },
    { event: "content_block_start", data: { type: "content_block_start", index: 1, content_block: { type: "tool_use", id: "toolu_echo", name: "Bash", input: {} } } },
    { event: "content_block_delta", data: { type: "content_block_delta", index: 1, delta: { type: "input_json_delta", partial_json: toolInput } } },
    { event: "content_block_stop", data: { type: "content_block_stop", index: 1 } },
    { event: "message_delta", data: { type: "message_delta", delta: { stop_reason: "tool_use", stop_sequence: null }, usage: { output_tokens: 20 } } },
    { event: "message_stop", data: { type: "message_stop" } },
  ];
}

function echoHeaders(key: string): Record<string, string> {
  const f = forms(key);
  return { "x-echo-raw": `key=${key}`, "x-echo-b64": f["base64 after 1 byte"], "x-echo-url": f["url-encoded"], "request-id": "req_echo" };
}

describe("an upstream that echoes the provider key", () => {
  let h: Harness;
  /** Everything a client or an operator saw, with where it came from. */
  const seen: { where: string; text: string }[] = [];
  const see = (where: string, value: unknown) => seen.push({ where, text: typeof value === "string" ? value : JSON.stringify(value) });
  const previous = getGlobalDispatcher();
  const agent = new http.Agent({ keepAlive: true, localAddress: PEER });

  before(async () => {
    h = await startHarness({
      peers: { [PEER]: { login: "admin@example.com" } },
      config: (up) => ({
        providers: {
          ...defaultProviders(up),
          bedrock: {
            type: "bedrock",
            region: "us-east-1",
            baseurl: up,
            credentials: { access_key_id: "AKIAKEYLESSGATEWAY01", secret_access_key: AWS_SECRET },
            models: ["us.anthropic.*"],
          },
        },
        grants: [{ src: ["*"], app: { "keyless.dev/cap/gateway": [{ role: "admin", models: "**" }] } }],
      }),
    });
    // @google/genai takes no custom fetch: this file's global connections come from the peer.
    setGlobalDispatcher(sourceAgent(PEER));
  });
  after(async () => {
    setGlobalDispatcher(previous);
    agent.destroy();
    await h.close();
  });

  const seeHeaders = (where: string, headers: Headers) => {
    const lines: string[] = [];
    headers.forEach((v, k) => lines.push(`${k}: ${v}`));
    see(`${where} headers`, lines.join("\n"));
  };

  it("Anthropic SDK stream: text, tool input and headers, each key cut across two writes", async () => {
    const key = KEYS.anthropic;
    h.upstream.once(/^\/v1\/messages$/, () => inPieces(sse(anthropicEvents(key, "claude-sonnet-4-6")), "text/event-stream", Object.values(forms(key)), echoHeaders(key)));
    const client = new Anthropic({ apiKey: "client-key", baseURL: h.gateway.url, fetch: h.fetchFrom(PEER), maxRetries: 0 });
    const stream = client.messages.stream({ model: "claude-sonnet-4-6", max_tokens: 50, messages: [{ role: "user", content: "x" }] });
    const message = await stream.finalMessage();
    see("anthropic stream message", message);
    seeHeaders("anthropic stream", (await stream.withResponse()).response.headers);
    // The stream stayed valid: the SDK assembled the text and the tool input, with the key replaced.
    const text = message.content.find((b) => b.type === "text");
    const tool = message.content.find((b) => b.type === "tool_use");
    assert.match(text?.type === "text" ? text.text : "", /^raw \[redacted\] escaped \[redacted\] \[redacted\]$/);
    assert.deepEqual(tool?.type === "tool_use" ? tool.input : null, { command: "echo [redacted] [redacted]" });
  });

  it("SSE sent for a non-stream request", async () => {
    const key = KEYS.anthropic;
    h.upstream.once(/^\/v1\/messages$/, () => inPieces(sse(anthropicEvents(key, "claude-sonnet-4-6")), "text/event-stream", [key]));
    const res = await h.fetchFrom(PEER)(`${h.gateway.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "claude-sonnet-4-6", max_tokens: 5, messages: [{ role: "user", content: "x" }] }),
    });
    const body = await res.text();
    see("non-stream request answered with SSE", body);
    assert.match(body, /raw \[redacted\]/);
  });

  it("a key cut across two text deltas: the views that join deltas (/api, /ui rebuilt) scrub the joined text", async () => {
    const key = KEYS.anthropic;
    const half = key.length / 2;
    const delta = (text: string) => ({ event: "content_block_delta", data: { type: "content_block_delta", index: 0, delta: { type: "text_delta", text } } });
    const [start, blockStart, , , blockStop, , , , messageDelta, stop] = anthropicEvents(key, "claude-sonnet-4-6");
    h.upstream.once(/^\/v1\/messages$/, () => inPieces(sse([start!, blockStart!, delta(`a ${key.slice(0, half)}`), delta(`${key.slice(half)} b`), blockStop!, messageDelta!, stop!]), "text/event-stream", []));
    const res = await h.fetchFrom(PEER)(`${h.gateway.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "claude-sonnet-4-6", max_tokens: 5, stream: true, messages: [{ role: "user", content: "x" }] }),
    });
    // Not added to `seen`: each event holds half a key, and only the client joins them (left open, see the report).
    await res.text();
    const id = res.headers.get("x-keyless-request-id")!;
    // The row is recorded once the upstream body is consumed, which can be just after the client's last byte.
    type View = { capture?: { response: { rebuilt: { content: { text: string }[] } } } };
    let view: View = {};
    for (const deadline = Date.now() + 5000; !view.capture && Date.now() < deadline; await new Promise((r) => setTimeout(r, 20))) {
      await h.gateway.requestLog.flush();
      view = (await (await h.fetchFrom(PEER)(`${h.gateway.url}/api/requests/${id}`)).json()) as View;
    }
    assert.ok(view.capture, `request ${id} was logged with its capture`);
    assert.equal(view.capture.response.rebuilt.content[0]?.text, "a [redacted] b");
  });

  it("OpenAI SDK chat stream: content and tool-call arguments (JSON in JSON)", async () => {
    const key = KEYS.openai;
    const f = forms(key);
    const chunk = (delta: unknown, extra: Record<string, unknown> = {}) => ({ id: "chatcmpl-echo", object: "chat.completion.chunk", created: 1, model: "gpt-5", choices: [{ index: 0, delta, finish_reason: null }], ...extra });
    const body =
      sse([
        { data: chunk({ role: "assistant", content: `k=${key}` }) },
        { data: chunk({ tool_calls: [{ index: 0, id: "call_echo", type: "function", function: { name: "shell", arguments: "" } }] }) },
      ]) +
      // By hand: the arguments are JSON text inside a JSON string, the key \u-escaped inside that.
      `data: {"id":"chatcmpl-echo","object":"chat.completion.chunk","created":1,"model":"gpt-5","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\\"command\\":\\"echo ${f["JSON in JSON"]} ${f["every char, JSON in JSON"]}\\"}"}}]},"finish_reason":null}]}\n\n` +
      sse([
        { data: { id: "chatcmpl-echo", object: "chat.completion.chunk", created: 1, model: "gpt-5", choices: [{ index: 0, delta: {}, finish_reason: "tool_calls" }] } },
        { data: { id: "chatcmpl-echo", object: "chat.completion.chunk", created: 1, model: "gpt-5", choices: [], usage: { prompt_tokens: 5, completion_tokens: 5, total_tokens: 10 } } },
        { data: "[DONE]" },
      ]);
    h.upstream.once(/^\/v1\/chat\/completions$/, () => inPieces(body, "text/event-stream", Object.values(f), echoHeaders(key)));
    const client = new OpenAI({ apiKey: "client-key", baseURL: `${h.gateway.url}/v1`, fetch: h.fetchFrom(PEER), maxRetries: 0 });
    const { data: stream, response } = await client.chat.completions.create({ model: "gpt-5", messages: [{ role: "user", content: "x" }], stream: true }).withResponse();
    seeHeaders("openai chat stream", response.headers);
    let content = "";
    let args = "";
    for await (const c of stream) {
      see("openai chat chunk", c);
      content += c.choices[0]?.delta.content ?? "";
      args += c.choices[0]?.delta.tool_calls?.[0]?.function?.arguments ?? "";
    }
    assert.equal(content, "k=[redacted]");
    assert.deepEqual(JSON.parse(args), { command: "echo [redacted] [redacted]" });
  });

  it("OpenAI SDK Responses stream: a text delta and a failed response's error", async () => {
    const key = KEYS.openai;
    const f = forms(key);
    const body = sse([
      { event: "response.created", data: { type: "response.created", sequence_number: 0, response: { id: "resp_echo", object: "response", created_at: 1, status: "in_progress", model: "gpt-5", output: [] } } },
      { event: "response.output_text.delta", data: { type: "response.output_text.delta", sequence_number: 1, item_id: "msg_echo", output_index: 0, content_index: 0, delta: `${key}` } },
      {
        event: "response.failed",
        data: `{"type":"response.failed","sequence_number":2,"response":{"id":"resp_echo","object":"response","created_at":1,"status":"failed","model":"gpt-5","output":[],"error":{"code":"server_error","message":"auth with ${f["every char \\uXXXX"]} failed"}}}`,
      },
    ]);
    h.upstream.once(/^\/v1\/responses$/, () => inPieces(body, "text/event-stream", Object.values(f)));
    const client = new OpenAI({ apiKey: "client-key", baseURL: `${h.gateway.url}/v1`, fetch: h.fetchFrom(PEER), maxRetries: 0 });
    const events: unknown[] = [];
    for await (const event of await client.responses.create({ model: "gpt-5", input: "x", stream: true })) events.push(event);
    see("responses events", events);
    assert.equal(events.length, 3);
    const row = await waitFor(async () => (await h.gateway.requestLog.list({ limit: 20 })).find((r) => r.route === "openai.responses" && r.error), 3000, "failed responses row");
    assert.match(row.error ?? "", /auth with \[redacted\] failed/);
  });

  it("Gemini SDK stream (alt=sse): URL-encoded and base64 in text and function-call args", async () => {
    const key = KEYS.gemini;
    const f = forms(key);
    const body = sse([
      { data: { candidates: [{ content: { parts: [{ text: `u=${f["url-encoded"]} l=${f["url-encoded lowercase"]}` }], role: "model" }, index: 0 }], modelVersion: "gemini-3.8-flash" } },
      {
        data: {
          candidates: [{ content: { parts: [{ functionCall: { name: "run_shell_command", args: { command: `echo ${f["base64 aligned"]} ${f["base64 after 2 bytes"]} ${key}` } } }], role: "model" }, finishReason: "STOP", index: 0 }],
          usageMetadata: { promptTokenCount: 5, candidatesTokenCount: 5, totalTokenCount: 10 },
          modelVersion: "gemini-3.8-flash",
        },
      },
    ]);
    h.upstream.once(/streamGenerateContent/, () => inPieces(body, "text/event-stream", Object.values(f), echoHeaders(key)));
    const client = new GoogleGenAI({ apiKey: "placeholder", httpOptions: { baseUrl: h.gateway.url } });
    const chunks: unknown[] = [];
    for await (const chunk of await client.models.generateContentStream({ model: "gemini-3.8-flash", contents: "go" })) chunks.push(chunk);
    see("gemini chunks", chunks);
    assert.equal(chunks.length, 2);
    assert.match(JSON.stringify(chunks), /echo [^"]*\[redacted\][^"]*\[redacted\] \[redacted\]/);
  });

  const bedrock = () =>
    new BedrockRuntimeClient({
      region: "us-east-1",
      endpoint: `${h.gateway.url}/bedrock`,
      credentials: { accessKeyId: "AKIACLIENTSHOULDNOT1", secretAccessKey: "client-secret" },
      requestHandler: new NodeHttpHandler({ httpAgent: agent }),
      maxAttempts: 1,
    });

  it("Bedrock InvokeModelWithResponseStream: the key inside base64 chunk bytes and a frame header; frames cut in pieces", async () => {
    const f = forms(AWS_SECRET);
    const frames = anthropicEvents(AWS_SECRET, BEDROCK_MODEL).map(({ data }, i) => {
      const payload = JSON.stringify({ bytes: Buffer.from(typeof data === "string" ? data : JSON.stringify(data)).toString("base64"), p: "abc" });
      // One frame also names the key in a header of its own.
      const headers = { ":message-type": str("event"), ":event-type": str("chunk"), ":content-type": str("application/json"), ...(i === 2 ? { "x-echo": str(AWS_SECRET) } : {}) };
      return codec.encode({ headers, body: Buffer.from(payload) });
    });
    const all = Buffer.concat(frames);
    // Cut every 7 bytes: frames and their base64 split across writes.
    h.upstream.once(/invoke-with-response-stream/, () => inPieces(all, "application/vnd.amazon.eventstream", 7, { "x-amzn-requestid": "r1", "x-echo-raw": f["json \\/"] }));
    const res = await bedrock().send(
      new InvokeModelWithResponseStreamCommand({ modelId: BEDROCK_MODEL, body: JSON.stringify({ anthropic_version: "bedrock-2023-05-31", max_tokens: 20, messages: [{ role: "user", content: "x" }] }) }),
    );
    const events: unknown[] = [];
    // The SDK checks both CRCs of every frame: re-encoded frames must be exact.
    for await (const event of res.body!) events.push(JSON.parse(Buffer.from(event.chunk?.bytes ?? []).toString()));
    see("bedrock invoke events", events);
    assert.equal(events.length, frames.length);
    assert.match(JSON.stringify(events), /raw \[redacted\] /);
  });

  it("Bedrock ConverseStream: the key `\\/`-escaped and base64url in a text delta", async () => {
    const f = forms(AWS_SECRET);
    const frame = (name: string, data: string) => encodeMessage({ name, data });
    const all = Buffer.concat([
      frame("messageStart", JSON.stringify({ role: "assistant", p: "a" })),
      frame("contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":"slash ${f["json \\/"]} b64 ${f.base64url}"},"p":"ab"}`),
      frame("contentBlockStop", JSON.stringify({ contentBlockIndex: 0, p: "a" })),
      frame("messageStop", JSON.stringify({ stopReason: "end_turn", p: "a" })),
      frame("metadata", JSON.stringify({ usage: { inputTokens: 3, outputTokens: 4, totalTokens: 7 }, metrics: { latencyMs: 1 }, p: "a" })),
    ]);
    h.upstream.once(/converse-stream/, () => inPieces(all, "application/vnd.amazon.eventstream", [f["json \\/"]]));
    const res = await bedrock().send(new ConverseStreamCommand({ modelId: BEDROCK_MODEL, messages: [{ role: "user", content: [{ text: "x" }] }] }));
    const events: unknown[] = [];
    for await (const event of res.stream!) events.push(event);
    see("bedrock converse events", events);
    assert.equal(events.length, 5);
    assert.match(JSON.stringify(events), /slash \[redacted\] b64 [^"]*\[redacted\]/);
  });

  it("complete JSON bodies: base64, URL-encoded and JSON-in-JSON tool arguments", async () => {
    const key = KEYS.openai;
    const f = forms(key);
    const body = `{"id":"chatcmpl-echo2","object":"chat.completion","created":1,"model":"gpt-5","choices":[{"index":0,"message":{"role":"assistant","content":"${f["base64 after 1 byte"]} ${f["url-encoded lowercase"]}","tool_calls":[{"id":"call_echo2","type":"function","function":{"name":"shell","arguments":"{\\"command\\":\\"echo ${f["JSON in JSON"]}\\"}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":5,"completion_tokens":5,"total_tokens":10}}`;
    h.upstream.once(/^\/v1\/chat\/completions$/, () => inPieces(body, "application/json", Object.values(f), echoHeaders(key)));
    const client = new OpenAI({ apiKey: "client-key", baseURL: `${h.gateway.url}/v1`, fetch: h.fetchFrom(PEER), maxRetries: 0 });
    const { data, response } = await client.chat.completions.create({ model: "gpt-5", messages: [{ role: "user", content: "x" }] }).withResponse();
    see("openai chat completion", data);
    seeHeaders("openai chat completion", response.headers);
    assert.deepEqual(JSON.parse(data.choices[0]!.message.tool_calls![0]!.type === "function" ? data.choices[0]!.message.tool_calls![0]!.function.arguments : ""), { command: "echo [redacted]" });
  });

  it("finds no key in any encoding: responses, rows, tool calls, captures, the API, the UI, the raw db and wal", async () => {
    await h.gateway.requestLog.flush();
    const get = async (path: string) => {
      const res = await h.fetchFrom(PEER)(`${h.gateway.url}${path}`);
      assert.equal(res.status, 200, path);
      const text = await res.text();
      see(path, text);
      return text;
    };
    const { requests } = JSON.parse(await get("/api/requests?limit=1000")) as { requests: { id: string }[] };
    assert.ok(requests.length >= 8);
    for (const { id } of requests) {
      await get(`/api/requests/${id}`);
      await get(`/ui/requests/${id}`);
      const full = (await h.gateway.requestLog.get(id))!;
      see(`capture ${id}`, { row: full.row, capture: full.capture?.requestHeaders, response: full.capture?.responseHeaders });
      see(`capture body ${id}`, Buffer.from(full.capture?.responseBody ?? []).toString("latin1"));
    }
    const toolCalls = await get("/api/tool-calls");
    assert.ok((JSON.parse(toolCalls) as { tool_calls: unknown[] }).tool_calls.length >= 4);
    for (const path of ["/ui/", "/ui/requests", "/ui/tool-calls", "/metrics"]) await get(path);
    for (const file of [h.dbPath, `${h.dbPath}-wal`].filter(existsSync)) see(file, readFileSync(file).toString("latin1"));
    assert.ok(seen.length > 40);
    const leaks: string[] = [];
    for (const key of ALL_KEYS) for (const { where, text } of seen) {
      const found = findKey(text, key);
      if (found) leaks.push(`${where}: ${found}`);
    }
    assert.deepEqual(leaks, []);
    // The echoes were real: the upstream's bodies held the keys (the test would pass vacuously otherwise).
    assert.ok(seen.some(({ text }) => text.includes("[redacted]")));
  });
});
