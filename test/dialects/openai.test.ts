import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import { type Harness, KEYS, startHarness } from "../helpers/gateway.js";
import { waitFor } from "../helpers/wait.js";

describe("OpenAI Chat and Responses through the gateway", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ peers: { "127.0.0.3": { tags: ["tag:ci-acme-api", "tag:ci"], nodeId: "nCI1" } } });
  });
  after(() => h.close());

  const client = () => new OpenAI({ apiKey: "placeholder", baseURL: `${h.gateway.url}/v1`, fetch: h.fetchFrom("127.0.0.3"), maxRetries: 0 });
  const direct = () => new OpenAI({ apiKey: KEYS.openai, baseURL: `${h.upstream.url}/v1`, maxRetries: 0 });
  const rowFor = (id: string) => waitFor(async () => (await h.gateway.requestLog.get(id))?.row, 3000, `row ${id}`);

  it("chat, non-streaming: same result as direct, tagged principal", async () => {
    const params = { model: "gpt-5-mini", messages: [{ role: "user" as const, content: "hi" }] };
    const via = await client().chat.completions.create(params).withResponse();
    assert.deepEqual(via.data, await direct().chat.completions.create(params));
    const row = await rowFor(via.response.headers.get("x-keyless-request-id")!);
    assert.equal(row.principal, "tag:ci,tag:ci-acme-api", "tagged node's principal is its sorted tags");
    assert.equal(row.login, null);
    assert.equal(row.node_id, "nCI1");
    assert.equal(row.input_tokens, 20);
    assert.equal(row.output_tokens, 5);
    assert.equal(row.tool_calls, 1);
  });

  it("chat stream without include_usage: usage logged, the extra chunk hidden from the client", async () => {
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    const { data: stream, response } = await client()
      .chat.completions.create({ model: "gpt-5-mini", stream: true, messages: [{ role: "user", content: "hi" }] })
      .withResponse();
    for await (const chunk of stream) chunks.push(chunk);
    assert.ok(chunks.length >= 4);
    assert.ok(chunks.every((c) => c.choices.length > 0), "the usage-only chunk leaked to a client that did not ask for it");
    const upstreamBody = JSON.parse(h.upstream.requests.at(-1)!.body) as { stream_options?: { include_usage?: boolean } };
    assert.equal(upstreamBody.stream_options?.include_usage, true);
    const row = await rowFor(response.headers.get("x-keyless-request-id")!);
    assert.equal(row.streamed, true);
    assert.equal(row.input_tokens, 20);
    assert.equal(row.output_tokens, 5);
    assert.ok(row.cost_nanos !== null && row.cost_nanos > 0);
  });

  it("chat stream with include_usage: the client gets its usage chunk", async () => {
    const stream = await client().chat.completions.create({
      model: "gpt-5-mini",
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: "user", content: "hi" }],
    });
    let usage: OpenAI.CompletionUsage | undefined;
    const calls: string[] = [];
    for await (const chunk of stream) {
      if (chunk.usage) usage = chunk.usage;
      for (const tc of chunk.choices[0]?.delta.tool_calls ?? []) calls.push(tc.function?.arguments ?? "");
    }
    assert.equal(usage?.prompt_tokens, 20);
    assert.equal(JSON.parse(calls.join("")).command[2], "echo hello");
  });

  it("responses, streaming: tool call and usage from response.completed", async () => {
    const { data: stream, response } = await client().responses.create({ model: "gpt-5-codex", input: "run", stream: true }).withResponse();
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);
    assert.equal(types.at(-1), "response.completed");
    const row = await rowFor(response.headers.get("x-keyless-request-id")!);
    assert.equal(row.tool_calls, 1);
    assert.equal(row.input_tokens, 20);
    assert.equal(row.model, "gpt-5-codex");
  });

  it("responses, non-streaming equals direct", async () => {
    const via = await client().responses.create({ model: "gpt-5-codex", input: "run" });
    const straight = await direct().responses.create({ model: "gpt-5-codex", input: "run" });
    assert.deepEqual(via.output, straight.output);
    assert.equal(via.usage?.total_tokens, 25);
  });

  it("a plain GET /v1/responses (no upgrade) is told to upgrade or POST", async () => {
    const res = await h.fetchFrom("127.0.0.3")(`${h.gateway.url}/v1/responses`);
    assert.equal(res.status, 426);
    assert.match(((await res.json()) as { error: { message: string } }).error.message, /WebSocket upgrade; use POST for HTTP/);
  });

  it("lists only models the caller may use, in OpenAI's format", async () => {
    const page = await client().models.list();
    const ids = page.data.map((m) => m.id);
    assert.ok(ids.includes("gpt-5-mini") || ids.some((id) => id.startsWith("gpt-")), `got ${ids.join(",")}`);
  });
});
