// Bad input, broken upstreams and hostile clients: clear errors in the provider's shape, nothing crashes, nothing leaks.
import assert from "node:assert/strict";
import net from "node:net";
import { gzipSync } from "node:zlib";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { type Harness, KEYS, startHarness } from "../helpers/gateway.js";
import { sseResponse } from "../fakes/upstream.js";
import { capture } from "../fakes/fixtures.js";
import { waitFor } from "../helpers/wait.js";

const PEER = "127.0.0.2";

describe("robustness", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({
      peers: { [PEER]: { login: "alice@example.com" }, "127.0.0.9": { login: "mallory@example.com" } },
      config: () => ({
        limits: { max_body: "64KiB" },
        grants: [
          { src: ["alice@example.com"], app: { "keyless.dev/cap/gateway": [{ role: "admin" }, { models: ["anthropic/claude-*", "openai/**"] }] } },
        ],
      }),
    });
  });
  after(() => h.close());

  const post = (path: string, body: string, headers: Record<string, string> = {}, from = PEER) =>
    h.fetchFrom(from)(`${h.gateway.url}${path}`, { method: "POST", body, headers: { "content-type": "application/json", ...headers } });
  const messages = (model = "claude-sonnet-4-6", extra: Record<string, unknown> = {}) =>
    JSON.stringify({ model, max_tokens: 10, messages: [{ role: "user", content: "hi" }], ...extra });

  it("malformed JSON → 400 in Anthropic's error shape", async () => {
    const res = await post("/v1/messages", "{not json");
    assert.equal(res.status, 400);
    const body = (await res.json()) as { type: string; error: { type: string; message: string } };
    assert.equal(body.type, "error");
    assert.equal(body.error.type, "invalid_request_error");
    assert.match(body.error.message, /not valid JSON/);
  });

  it("a body over the limit → 413 without reading it all", async () => {
    const res = await post("/v1/chat/completions", JSON.stringify({ model: "gpt-5", messages: [{ role: "user", content: "x".repeat(100_000) }] }));
    assert.equal(res.status, 413);
    const body = (await res.json()) as { error: { message: string } };
    assert.match(body.error.message, /exceeds the gateway's limit of 65536 bytes/);
  });

  it("unknown route → 404, never forwarded", async () => {
    const before = h.upstream.requests.length;
    const res = await post("/v1/admin/keys", "{}");
    assert.equal(res.status, 404);
    assert.equal(h.upstream.requests.length, before);
  });

  it("path tricks never choose the destination", async () => {
    const before = h.upstream.requests.length;
    for (const path of ["/v1/messages/..%2F..%2Fadmin", "/v1beta/models/..%2F..%2Fsecret:generateContent", "/v1beta/models/%2e%2e:generateContent", "/v1/messages%2Fcount_tokens"]) {
      const res = await post(path, messages());
      assert.ok([400, 404].includes(res.status), `${path} → ${res.status}`);
    }
    assert.equal(h.upstream.requests.length, before, "a tricked path reached the upstream");
    // Dot segments are resolved before routing: this is just /v1/messages.
    const res = await post("/v1/x/../messages", messages());
    assert.equal(res.status, 200);
    assert.equal(h.upstream.requests.at(-1)!.path, "/v1/messages");
  });

  it("an absolute-URL request target goes to the configured upstream only", async () => {
    const before = h.upstream.requests.length;
    const port = new URL(h.gateway.url).port;
    const body = messages();
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = net.connect({ host: "127.0.0.1", port: Number(port), localAddress: PEER }, () => {
        socket.write(`POST http://evil.invalid/v1/messages HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      });
      let data = "";
      socket.on("data", (d) => (data += d));
      socket.on("end", () => resolve(data));
      socket.on("error", reject);
    });
    assert.match(raw, /^HTTP\/1.1 200/);
    assert.equal(h.upstream.requests.length, before + 1);
    assert.equal(h.upstream.requests.at(-1)!.headers.host, new URL(h.upstream.url).host);
  });

  it("identity headers from the client are ignored", async () => {
    const res = await post("/v1/messages", messages(), { "tailscale-user-login": "alice@example.com", "x-forwarded-for": PEER }, "127.0.0.9");
    assert.equal(res.status, 403);
    const body = (await res.json()) as { error: { message: string } };
    assert.equal(body.error.message, "access denied: no role granted");
    assert.ok(!("tailscale-user-login" in h.upstream.requests.at(-1)!.headers));
  });

  it("a model outside the caller's grants → 404 in the provider's shape", async () => {
    const res = await post("/v1beta/models/gemini-3.8-flash:generateContent", JSON.stringify({ contents: [{ parts: [{ text: "x" }] }] }));
    assert.equal(res.status, 404);
    const body = (await res.json()) as { error: { code: number; status: string; message: string } };
    assert.equal(body.error.status, "NOT_FOUND");
    assert.match(body.error.message, /no grant allows gemini\/gemini-3.8-flash/);
  });

  it("a model no provider serves → 404", async () => {
    const res = await post("/v1/messages", messages("llama-3"));
    assert.equal(res.status, 404);
  });

  it("upstream errors come back as the provider sent them", async () => {
    const upstreamBody = { type: "error", error: { type: "overloaded_error", message: "Overloaded" } };
    h.upstream.once(/^\/v1\/messages$/, () => Response.json(upstreamBody, { status: 529, headers: { "request-id": "req_up" } }));
    const res = await post("/v1/messages", messages());
    assert.equal(res.status, 529);
    assert.deepEqual(await res.json(), upstreamBody);
    assert.equal(res.headers.get("request-id"), "req_up");
  });

  it("an upstream that echoes the provider key has it scrubbed", async () => {
    h.upstream.once(/^\/v1\/chat\/completions$/, () =>
      Response.json({ error: { message: `Incorrect API key provided: ${KEYS.openai}.`, type: "invalid_request_error", code: "invalid_api_key" } }, { status: 401 }),
    );
    const res = await post("/v1/chat/completions", JSON.stringify({ model: "gpt-5", messages: [] }));
    const text = await res.text();
    assert.equal(res.status, 401);
    assert.ok(!text.includes(KEYS.openai));
    assert.match(text, /\[redacted\]/);
  });

  it("gzip-compressed upstream bodies reach the SDK decoded", async () => {
    const message = JSON.parse(capture("fixtures/anthropic-messages-tool_use.json")) as Record<string, unknown>;
    h.upstream.once(/^\/v1\/messages$/, () => new Response(gzipSync(JSON.stringify(message)), { headers: { "content-type": "application/json", "content-encoding": "gzip" } }));
    const client = new Anthropic({ apiKey: "x", baseURL: h.gateway.url, fetch: h.fetchFrom(PEER), maxRetries: 0 });
    const res = await client.messages.create({ model: "claude-sonnet-4-6", max_tokens: 10, messages: [{ role: "user", content: "x" }] });
    assert.equal(res.id, message.id);
  });

  it("an upstream reset mid-stream ends the stream with an error event, and is logged", async () => {
    const text = capture("fixtures/anthropic-messages-tool_use.sse");
    h.upstream.once(/^\/v1\/messages$/, () => {
      const events = text.split(/(?<=\n\n)/).slice(0, 3);
      const stream = new ReadableStream<Uint8Array>({
        async pull(controller) {
          const next = events.shift();
          if (next) controller.enqueue(new TextEncoder().encode(next));
          else {
            // Let the events reach the wire first, as a real connection reset would.
            await new Promise((r) => setTimeout(r, 50));
            controller.error(new Error("connection reset"));
          }
        },
      });
      return new Response(stream, { headers: { "content-type": "text/event-stream" } });
    });
    const client = new Anthropic({ apiKey: "x", baseURL: h.gateway.url, fetch: h.fetchFrom(PEER), maxRetries: 0 });
    const stream = client.messages.stream({ model: "claude-sonnet-4-6", max_tokens: 10, messages: [{ role: "user", content: "x" }] });
    await assert.rejects(stream.finalMessage(), /upstream stream broke/);
    const row = await waitFor(async () => (await h.gateway.requestLog.list({ limit: 5 })).find((r) => r.error?.includes("upstream stream broke")), 3000, "row");
    assert.equal(row.input_tokens, 12, "usage seen before the reset is kept");
  });

  it("a client that disconnects aborts the upstream call", async () => {
    let upstreamCancelled = false;
    h.upstream.once(/^\/v1\/messages$/, () => {
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(capture("fixtures/anthropic-messages-tool_use.sse").split("\n\n")[0] + "\n\n"));
        },
        cancel() {
          upstreamCancelled = true;
        },
      });
      return new Response(stream, { headers: { "content-type": "text/event-stream" } });
    });
    const controller = new AbortController();
    const res = await post("/v1/messages", messages("claude-sonnet-4-6", { stream: true }), {}, PEER);
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    await reader.cancel();
    await waitFor(async () => upstreamCancelled, 3000, "upstream cancel");
    await waitFor(async () => (await h.gateway.requestLog.list({ limit: 5 })).find((r) => r.error?.startsWith("client disconnected")), 3000, "row");
  });

  it("an unreachable upstream → 502 in the provider's shape, naming the provider", async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const server = net.createServer().listen(0, "127.0.0.1", () => {
        const { port } = server.address() as net.AddressInfo;
        server.close(() => resolve(port));
      });
    });
    const dead = await startHarness({
      peers: { [PEER]: { login: "alice@example.com" } },
      config: () => ({ providers: { anthropic: { type: "anthropic", baseurl: `http://127.0.0.1:${closedPort}`, apikey: KEYS.anthropic, models: ["claude-*"] } } }),
    });
    try {
      const res = await dead.fetchFrom(PEER)(`${dead.gateway.url}/v1/messages`, { method: "POST", body: messages(), headers: { "content-type": "application/json" } });
      assert.equal(res.status, 502);
      const body = (await res.json()) as { error: { type: string; message: string } };
      assert.equal(body.error.type, "api_error");
      assert.match(body.error.message, /upstream anthropic failed: ECONNREFUSED/);
    } finally {
      await dead.close();
    }
  });

  it("metrics and the admin API hold no secret", async () => {
    const metrics = await (await h.fetchFrom(PEER)(`${h.gateway.url}/metrics`)).text();
    assert.match(metrics, /keyless_requests_total/);
    const requests = await (await h.fetchFrom(PEER)(`${h.gateway.url}/api/requests?limit=1000`)).text();
    for (const key of Object.values(KEYS)) {
      assert.ok(!metrics.includes(key));
      assert.ok(!requests.includes(key));
    }
    const denied = await h.fetchFrom("127.0.0.9")(`${h.gateway.url}/api/requests`);
    assert.equal(denied.status, 403);
  });
});

describe("a stream torn mid-event", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ peers: { [PEER]: { login: "alice@example.com" } } });
  });
  after(() => h.close());

  it("reaches the SDK as whole events followed by the gateway's error, not as a torn event", async () => {
    const text = capture("fixtures/anthropic-messages-tool_use.sse");
    const cut = text.indexOf("input_json_delta") + 5;
    h.upstream.once(/^\/v1\/messages$/, () => {
      let sent = false;
      const stream = new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (!sent) {
            sent = true;
            controller.enqueue(new TextEncoder().encode(text.slice(0, cut)));
            return;
          }
          await new Promise((r) => setTimeout(r, 50));
          controller.error(new Error("connection reset"));
        },
      });
      return new Response(stream, { headers: { "content-type": "text/event-stream" } });
    });
    const raw = await (await h.fetchFrom(PEER)(`${h.gateway.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "claude-sonnet-4-6", max_tokens: 10, stream: true, messages: [{ role: "user", content: "x" }] }),
    })).text();
    const events = raw.split("\n\n").filter(Boolean);
    assert.match(events.at(-1)!, /^event: error\ndata: \{"type":"error","error":\{"type":"api_error","message":"upstream stream broke/);
    for (const e of events.slice(0, -1)) JSON.parse(/^data: (.*)$/m.exec(e)![1]!);
    assert.ok(!raw.includes(text.slice(text.lastIndexOf("\n\n", cut) + 2, cut)), "the torn event's bytes reached the client");

    h.upstream.once(/^\/v1\/messages$/, () => new Response(text.slice(0, cut), { headers: { "content-type": "text/event-stream" } }));
    // A body that simply ends (no reset) is passed on whole, torn tail included: nothing the upstream sent is lost.
    const res = await h.fetchFrom(PEER)(`${h.gateway.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "claude-sonnet-4-6", max_tokens: 10, stream: true, messages: [{ role: "user", content: "x" }] }),
    });
    assert.equal(await res.text(), text.slice(0, cut));
  });
});
