import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { type Harness, KEYS, startHarness } from "../helpers/gateway.js";
import { waitFor } from "../helpers/wait.js";

describe("Anthropic Messages through the gateway", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ peers: { "127.0.0.2": { login: "alice@example.com", nodeId: "nALICE" } } });
  });
  after(() => h.close());

  const client = (apiKey = "placeholder") =>
    new Anthropic({ apiKey, baseURL: h.gateway.url, fetch: h.fetchFrom("127.0.0.2"), maxRetries: 0 });
  const direct = () => new Anthropic({ apiKey: KEYS.anthropic, baseURL: h.upstream.url, maxRetries: 0 });

  it("returns what the provider returns, non-streaming, with the tool call intact", async () => {
    const params = { model: "claude-sonnet-4-6", max_tokens: 100, messages: [{ role: "user" as const, content: "hi" }] };
    const via = await client("sk-client-secret-should-not-travel").messages.create(params);
    const straight = await direct().messages.create(params);
    assert.deepEqual(via, straight);
    assert.equal(via.content[0]?.type, "tool_use");
    const upstreamReq = h.upstream.requests.at(-2)!;
    assert.equal(upstreamReq.headers["x-api-key"], KEYS.anthropic);
    assert.ok(!JSON.stringify(upstreamReq.headers).includes("sk-client-secret"), "client key reached the upstream");
  });

  it("streams event by event and logs usage, cost and identity", async () => {
    const stream = client().messages.stream({ model: "claude-sonnet-4-6", max_tokens: 100, messages: [{ role: "user", content: "run it" }] });
    const final = await stream.finalMessage();
    assert.equal(final.stop_reason, "tool_use");
    const block = final.content[0];
    assert.ok(block?.type === "tool_use");
    assert.deepEqual(block.input, { command: "echo hello", description: "fake test command" });
    const row = await waitFor(async () => (await h.gateway.requestLog.list({ limit: 10 })).find((r) => r.streamed), 3000, "streamed row");
    assert.equal(row.principal, "alice@example.com");
    assert.equal(row.login, "alice@example.com");
    assert.equal(row.node_id, "nALICE");
    assert.equal(row.provider, "anthropic");
    assert.equal(row.model, "claude-sonnet-4-6");
    assert.equal(row.status, 200);
    assert.equal(row.input_tokens, 12);
    // message_delta.usage is cumulative: 7 output tokens total, not 1 + 7.
    assert.equal(row.output_tokens, 7);
    assert.equal(row.tool_calls, 1);
    // claude-sonnet-4-6: $3/Mtok in, $15/Mtok out → 12*3000 + 7*15000 nanodollars.
    assert.equal(row.cost_nanos, 12 * 3000 + 7 * 15000);
    assert.ok(row.ttfb_ms !== null && row.ttfb_ms >= 0);
  });

  it("passes version and beta headers, the query's beta flag and the body through unchanged", async () => {
    // Odd spacing and an unknown field: the upstream must get these exact bytes.
    const body = '{"model":"claude-sonnet-4-6",  "max_tokens":5,"messages":[{"role":"user","content":"x"}],"future_field":{"a":[1,2.50]}}';
    const res = await h.fetchFrom("127.0.0.2")(`${h.gateway.url}/v1/messages?beta=true&key=leak`, {
      method: "POST",
      body,
      headers: { "content-type": "application/json", "anthropic-version": "2023-06-01", "anthropic-beta": "context-1m-2025-08-07,effort-2025-11-24", "x-app": "cli" },
    });
    assert.equal(res.status, 200);
    const got = h.upstream.requests.at(-1)!;
    assert.equal(got.body, body);
    assert.equal(got.query, "?beta=true", "only the route's own query parameters travel");
    assert.equal(got.headers["anthropic-beta"], "context-1m-2025-08-07,effort-2025-11-24");
    assert.equal(got.headers["anthropic-version"], "2023-06-01");
    assert.equal(got.headers["x-app"], "cli");
  });

  it("serves count_tokens at no cost", async () => {
    const res = await client().messages.countTokens({ model: "claude-sonnet-4-6", messages: [{ role: "user", content: "x" }] });
    assert.equal(res.input_tokens, 42);
  });

  it("lists granted models in Anthropic's format (Claude Code gateway mode: GET /v1/models?limit=1000)", async () => {
    const page = await client().models.list({ limit: 1000 });
    const ids = page.data.map((m) => m.id);
    assert.ok(ids.includes("claude-opus-4-8"), ids.join(","));
    assert.ok(ids.every((id) => id.startsWith("claude")), "Anthropic clients get only Claude models");
    assert.equal(page.data[0]?.type, "model");
  });

  it("answers HEAD / for Claude Code's probe", async () => {
    const res = await h.fetchFrom("127.0.0.2")(`${h.gateway.url}/`, { method: "HEAD" });
    assert.equal(res.status, 200);
  });

  it("never lets the provider key out", async () => {
    await h.gateway.requestLog.flush();
    for (const row of (await h.gateway.requestLog.list({ limit: 100 }))) {
      const full = (await h.gateway.requestLog.get(row.id))!;
      const text = JSON.stringify(full.row) + Buffer.from(full.capture?.requestBody ?? []).toString() + Buffer.from(full.capture?.responseBody ?? []).toString() + JSON.stringify(full.capture?.requestHeaders) + JSON.stringify(full.capture?.responseHeaders);
      assert.ok(!text.includes(KEYS.anthropic), `key found in row ${row.id}`);
    }
  });
});
