// Fallback targets through the real HTTP server and the Anthropic SDK, against upstreams that fail on cue: a failure
// before the first byte (529 overloaded, 429 with retry-after, a connection reset, a stream that opens with an error)
// gets the SDK a normal answer from the next target, across providers and dialects (Anthropic → Bedrock InvokeModel,
// Vertex rawPredict); a failure after the first event is never retried and reaches the SDK as the provider's own
// error. The request's row names the target that answered, priced there, and its attempts say why others failed.
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { generateKeyPair } from "jose";
import { type FakeCloud, startFakeCloud } from "../fakes/cloud-upstream.js";
import { type FailingUpstream, startFailingUpstream } from "../fakes/failing-upstream.js";
import { type Harness, KEYS, startHarness } from "../helpers/gateway.js";
import { waitFor } from "../helpers/wait.js";
import type { RequestAttemptsTable } from "../../gateway/store/schema.js";

const AWS = { accessKeyId: "AKIAKEYLESSGATEWAY01", secretAccessKey: "CANARY-aws-secret-0123456789abcdef", region: "us-east-1" };
const VERTEX_KEY = "CANARY-vertex-express-0123456789abcdef";
const PRIMARY_KEY = "sk-ant-CANARY-primary-0123456789abcdef";
const ADMIN = "127.0.0.2";
const BEDROCK_OPUS = "us.anthropic.claude-opus-4-6-v1:0";


describe("fallback targets before the first byte", () => {
  let h: Harness;
  let primary: FailingUpstream;
  let cloud: FakeCloud;
  before(async () => {
    primary = await startFailingUpstream();
    const google = await generateKeyPair("RS256");
    cloud = await startFakeCloud({ aws: AWS, google: { clientEmail: "sa@example.iam.gserviceaccount.com", publicKey: google.publicKey, apiKey: VERTEX_KEY } });
    h = await startHarness({
      peers: { [ADMIN]: { login: "admin@example.com" } },
      config: (up) => ({
        providers: {
          anthropic: { type: "anthropic", baseurl: primary.url, apikey: PRIMARY_KEY, models: ["claude-*"] },
          backup: { type: "anthropic", baseurl: up, apikey: KEYS.anthropic, models: ["claude-*"] },
          bedrock: { type: "bedrock", region: "us-east-1", baseurl: cloud.url, credentials: { access_key_id: AWS.accessKeyId, secret_access_key: AWS.secretAccessKey }, models: ["us.anthropic.*"] },
          vertex: { type: "vertex", project: "p", region: "global", baseurl: cloud.url, credentials: { api_key: VERTEX_KEY }, models: ["claude-*"] },
        },
        routes: {
          "claude-sonnet-4-6": [{ provider: "anthropic" }, { provider: "backup" }],
          "claude-opus-4-6": [{ provider: "anthropic" }, { provider: "bedrock", model: BEDROCK_OPUS }],
          "claude-haiku-4-5": [{ provider: "anthropic" }, { provider: "vertex", model: "claude-haiku-4-5@20251001" }],
        },
        routing: { rate_limit_cooldown: "1s" },
        grants: [{ src: ["*"], app: { "keyless.dev/cap/gateway": [{ role: "admin", models: "**" }] } }],
      }),
    });
  });
  after(async () => {
    await h.close();
    await primary.close();
    await cloud.close();
  });
  beforeEach(() => {
    primary.requests.length = 0;
    h.upstream.requests.length = 0;
    cloud.requests.length = 0;
  });

  const client = () => new Anthropic({ apiKey: "-", baseURL: h.gateway.url, fetch: h.fetchFrom(ADMIN), maxRetries: 0 });
  const ask = (model = "claude-sonnet-4-6") => client().messages.create({ model, max_tokens: 50, messages: [{ role: "user", content: "hi" }] }).withResponse();
  const askStream = (model = "claude-sonnet-4-6") => client().messages.create({ model, max_tokens: 50, stream: true, messages: [{ role: "user", content: "hi" }] }).withResponse();
  // A streamed request's row is recorded once the gateway has sent the end, which can be after the SDK read its last event.
  const rowOf = (id: string) =>
    waitFor(async () => {
      await h.gateway.requestLog.flush();
      return (await h.gateway.requestLog.get(id))?.row;
    }, 3000, `row ${id}`);
  const attemptsOf = async (id: string) => {
    await h.gateway.requestLog.flush();
    return ((await (await h.fetchFrom(ADMIN)(`${h.gateway.url}/api/requests/${id}/attempts`)).json()) as { attempts: RequestAttemptsTable[] }).attempts;
  };
  const requestId = (res: Response) => res.headers.get("x-keyless-request-id")!;

  it("529 overloaded: the SDK gets the next target's answer; the row names it and records both attempts", async () => {
    primary.fail({ kind: "overloaded" });
    const { data, response } = await ask();
    assert.equal(data.type, "message");
    assert.equal(primary.requests.length, 1);
    assert.equal(h.upstream.requests.length, 1);
    const row = await rowOf(requestId(response));
    assert.equal(row.provider, "backup");
    assert.equal(row.status, 200);
    assert.ok(row.cost_nanos !== null && row.cost_nanos > 0);
    assert.ok(row.flags.includes("fallback"));
    const attempts = await attemptsOf(row.id);
    assert.deepEqual(attempts.map((a) => [a.provider, a.outcome, a.status]), [["anthropic", "failed", 529], ["backup", "answered", 200]]);
    assert.equal(attempts[0]!.reason, "529 overloaded_error: Overloaded");
  });

  it("429 with retry-after: the next target answers, and the refused key rests until its retry-after passes", async () => {
    // Three seconds: both requests below come well within it, even on a busy machine.
    primary.fail({ kind: "rate_limited", retryAfterSeconds: 3 });
    const first = await ask();
    assert.equal(first.data.type, "message");
    const second = await ask();
    assert.equal(second.data.type, "message");
    assert.equal(primary.requests.length, 1, "the resting key got no second request");
    const attempts = await attemptsOf(requestId(second.response));
    assert.equal(attempts[0]!.outcome, "skipped");
    assert.match(attempts[0]!.reason!, /every key of "anthropic" is resting until/);
    await new Promise((r) => setTimeout(r, 3100));
    await ask();
    assert.equal(primary.requests.length, 2, "back once its retry-after passed");
  });

  it("a connection reset before any header falls over", async () => {
    primary.fail({ kind: "reset" });
    const { data, response } = await ask();
    assert.equal(data.type, "message");
    const attempts = await attemptsOf(requestId(response));
    assert.deepEqual(attempts.map((a) => [a.outcome, a.status]), [["failed", null], ["answered", 200]]);
    assert.ok(attempts[0]!.reason!.length > 0);
  });

  it("a stream that opens with an overloaded error event falls over; the SDK streams the next target's answer", async () => {
    primary.fail({ kind: "stream_opens_overloaded" });
    const { data: stream, response } = await askStream();
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);
    assert.equal(types[0], "message_start");
    assert.equal(types.at(-1), "message_stop");
    const attempts = await attemptsOf(requestId(response));
    assert.match(attempts[0]!.reason!, /stream opened with an error: .*overloaded_error/);
    assert.equal((await rowOf(requestId(response))).provider, "backup");
  });

  it("the first target's stream, arriving whole with its end while a fallback is left, reaches the SDK whole", async () => {
    // The gateway reads a stream's first chunk to see whether it opens with an error; a short answer is all in it.
    for (let i = 0; i < 3; i++) {
      const { data: stream, response } = await askStream();
      const types: string[] = [];
      for await (const event of stream) types.push(event.type);
      assert.deepEqual(types, ["message_start", "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop"]);
      const row = await rowOf(requestId(response));
      assert.deepEqual([row.provider, row.error, row.output_tokens > 0], ["anthropic", null, true]);
    }
    assert.equal(h.upstream.requests.length, 0, "the fallback was never asked");
  });

  it("a 500 after the first event is never retried: the SDK raises the provider's own error", async () => {
    primary.fail({ kind: "error_after_first_event" });
    const { data: stream } = await askStream();
    const types: string[] = [];
    const err = await (async () => {
      for await (const event of stream) types.push(event.type);
    })().catch((e: unknown) => e);
    assert.deepEqual(types, ["message_start"]);
    assert.ok(err instanceof Anthropic.APIError, String(err));
    assert.match(err.message, /api_error.*Internal server error/);
    assert.equal(h.upstream.requests.length, 0, "the half-sent stream was not retried");
  });

  it("when every target fails, the SDK gets the last provider's own error", async () => {
    primary.fail({ kind: "overloaded" });
    h.upstream.once(/^\/v1\/messages$/, () => new Response(JSON.stringify({ type: "error", error: { type: "overloaded_error", message: "Overloaded" } }), { status: 529, headers: { "content-type": "application/json" } }));
    const err = await ask().catch((e: unknown) => e);
    assert.ok(err instanceof Anthropic.APIError, String(err));
    assert.equal(err.status, 529);
    assert.equal((err.error as { error: { type: string } }).error.type, "overloaded_error");
  });

  it("Anthropic Messages → Bedrock InvokeModel: same body with anthropic_version, model in the path, stream re-framed as SSE", async () => {
    primary.fail({ kind: "overloaded" });
    const { data, response } = await ask("claude-opus-4-6");
    assert.equal(data.type, "message");
    const sent = cloud.requests.at(-1)!;
    assert.equal(sent.modelId, BEDROCK_OPUS);
    assert.match(sent.path, /\/invoke$/);
    const body = JSON.parse(sent.body) as Record<string, unknown>;
    assert.equal(body.anthropic_version, "bedrock-2023-05-31");
    assert.equal(body.model, undefined);
    assert.equal(body.max_tokens, 50);
    const row = await rowOf(requestId(response));
    assert.deepEqual([row.provider, row.model], ["bedrock", BEDROCK_OPUS]);
    assert.ok(row.cost_nanos !== null && row.cost_nanos > 0, "priced at Bedrock's price for the model that answered");

    primary.fail({ kind: "overloaded" });
    const streamed = await askStream("claude-opus-4-6");
    const events: Anthropic.RawMessageStreamEvent[] = [];
    for await (const e of streamed.data) events.push(e);
    assert.equal(streamed.response.headers.get("content-type"), "text/event-stream; charset=utf-8");
    assert.equal(events[0]!.type, "message_start");
    assert.equal(events.at(-1)!.type, "message_stop");
    assert.ok(events.some((e) => e.type === "content_block_start" && e.content_block.type === "tool_use"), "the tool call came through");
    assert.match(cloud.requests.at(-1)!.path, /\/invoke-with-response-stream$/);
    assert.equal((JSON.parse(cloud.requests.at(-1)!.body) as Record<string, unknown>).stream, undefined);
    const streamedRow = await rowOf(requestId(streamed.response));
    assert.equal(streamedRow.provider, "bedrock");
    assert.ok(streamedRow.output_tokens > 0 && streamedRow.tool_calls === 1, "usage and the tool call read from the re-framed stream");
  });

  it("Anthropic Messages → Vertex rawPredict (streamed): the SDK gets the stream as Anthropic sends it", async () => {
    primary.fail({ kind: "overloaded" });
    const { data: stream, response } = await askStream("claude-haiku-4-5");
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);
    assert.equal(types[0], "message_start");
    assert.equal(types.at(-1), "message_stop");
    const sent = cloud.requests.at(-1)!;
    assert.equal(sent.path, "/v1/publishers/anthropic/models/claude-haiku-4-5@20251001:streamRawPredict");
    const body = JSON.parse(sent.body) as Record<string, unknown>;
    assert.equal(body.anthropic_version, "vertex-2023-10-16");
    assert.equal(body.model, undefined);
    assert.equal(body.stream, true);
    const row = await rowOf(requestId(response));
    assert.deepEqual([row.provider, row.model], ["vertex", "claude-haiku-4-5@20251001"]);
    assert.ok(row.output_tokens > 0, "usage read from the translated stream");
  });
});
