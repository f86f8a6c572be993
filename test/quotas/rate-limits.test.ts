// Rate limits beside dollar quotas, through the real HTTP server with the official SDKs: requests per window, tokens
// per window and concurrent requests, per bucket template. Refusals are the provider's own 429 with Retry-After and
// the rate-limit headers its SDK reads, and the SDKs' own retries wait that long, not less.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { parseConfigText } from "../../gateway/config/load.js";
import { QuotaStore } from "../../gateway/quotas/store.js";
import { sseResponse } from "../fakes/upstream.js";
import { anthropicTextStream } from "../fakes/replies.js";
import { type Harness, startHarness } from "../helpers/gateway.js";

const CAP = "keyless.dev/cap/gateway";
const ALICE = "127.0.0.2";
const BOB = "127.0.0.3";
const CAROL = "127.0.0.4";
const DAVE = "127.0.0.5";
const ERIN = "127.0.0.6";

describe("rate limits: provider-native 429s the SDKs honour", () => {
  let h: Harness;
  const grant = (login: string, bucket: string) => ({ src: [login], app: { [CAP]: [{ role: "user", models: "**", rate_limits: [{ bucket }] }] } });
  before(async () => {
    h = await startHarness({
      peers: Object.fromEntries([ALICE, BOB, CAROL, DAVE, ERIN].map((ip, i) => [ip, { login: `${["alice", "bob", "carol", "dave", "erin"][i]}@example.com` }])),
      config: () => ({
        rate_limits: {
          "rpm:<user>": { requests: 2, per: "1m" },
          // Refills one request every four seconds: time enough to be refused on a busy machine, short enough to wait.
          "retry:<user>": { requests: 2, per: "8s" },
          "tpm:<user>": { tokens: 2000, per: "1m" },
          "one:<user>": { concurrent: 1 },
          // Three seconds, not one: the second call must come before the refill even on a busy machine.
          "openai:<user>": { requests: 1, per: "3s" },
        },
        grants: [
          grant("alice@example.com", "rpm:<user>"),
          grant("bob@example.com", "tpm:<user>"),
          grant("carol@example.com", "one:<user>"),
          grant("dave@example.com", "openai:<user>"),
          grant("erin@example.com", "retry:<user>"),
        ],
      }),
    });
  });
  after(() => h.close());

  const anthropic = (from: string, maxRetries = 0) => new Anthropic({ apiKey: "-", baseURL: h.gateway.url, fetch: h.fetchFrom(from), maxRetries });
  const ask = (client: Anthropic, max_tokens = 50) => client.messages.create({ model: "claude-sonnet-4-6", max_tokens, messages: [{ role: "user", content: "hi" }] });
  const rows = async (principal: string) => {
    await h.gateway.requestLog.flush();
    return (await h.gateway.requestLog.list({ principal, limit: 100 })).reverse();
  };

  it("requests per window: the third of two allowed is Anthropic's RateLimitError with Retry-After and anthropic-ratelimit-* headers", async () => {
    const client = anthropic(ALICE);
    await ask(client);
    await ask(client);
    const started = Date.now();
    const err = await ask(client).catch((e: unknown) => e);
    assert.ok(err instanceof Anthropic.RateLimitError, String(err));
    const body = (err.error as { error: { type: string; message: string } }).error;
    assert.equal(body.type, "rate_limit_error");
    assert.match(body.message, /^rate limit exceeded: bucket "rpm:alice@example\.com" allows 2 requests per minute; retry in \d+s$/);
    const wait = Number(err.headers?.get("retry-after"));
    assert.ok(wait >= 1 && wait <= 30, `retry-after ${wait}`);
    assert.equal(err.headers?.get("anthropic-ratelimit-requests-limit"), "2");
    assert.equal(err.headers?.get("anthropic-ratelimit-requests-remaining"), "0");
    const reset = Date.parse(err.headers?.get("anthropic-ratelimit-requests-reset") ?? "");
    assert.ok(reset > started && reset <= Date.now() + wait * 1000 + 500, "reset is the retry-after from now");
    assert.equal((await rows("alice@example.com")).at(-1)!.denial?.split(":")[0], "rate_limit");
  });

  it("the Anthropic SDK's own retry waits the Retry-After, then succeeds", async () => {
    const client = anthropic(ERIN, 2);
    await ask(client);
    await ask(client);
    const started = performance.now();
    const message = await ask(client);
    const elapsed = performance.now() - started;
    assert.equal(message.type, "message");
    assert.ok(elapsed >= 950, `retried after ${elapsed} ms`);
    const list = await rows("erin@example.com");
    const refused = list.filter((r) => r.denial?.startsWith("rate_limit"));
    assert.equal(refused.length, 1, "one refusal, then the retry was admitted");
    assert.ok(list.at(-1)!.ts - refused[0]!.ts >= 950, "the retry came no earlier than Retry-After");
  });

  it("OpenAI: RateLimitError with x-ratelimit-* headers, and the SDK's retry waits them out", async () => {
    const client = (maxRetries: number) => new OpenAI({ apiKey: "-", baseURL: `${h.gateway.url}/v1`, fetch: h.fetchFrom(DAVE), maxRetries });
    const chat = (c: OpenAI) => c.chat.completions.create({ model: "gpt-5-mini", max_completion_tokens: 50, messages: [{ role: "user", content: "hi" }] });
    await chat(client(0));
    const err = await chat(client(0)).catch((e: unknown) => e);
    assert.ok(err instanceof OpenAI.RateLimitError, String(err));
    assert.equal(err.headers?.get("x-ratelimit-limit-requests"), "1");
    assert.equal(err.headers?.get("x-ratelimit-remaining-requests"), "0");
    // Whole seconds until the refill: 3 unless the machine took over a second between the two calls.
    assert.match(err.headers?.get("x-ratelimit-reset-requests") ?? "", /^[123]s$/);
    assert.equal(`${err.headers?.get("retry-after")}s`, err.headers?.get("x-ratelimit-reset-requests"));
    const started = performance.now();
    await chat(client(2));
    assert.ok(performance.now() - started >= 900, "the SDK waited before retrying");
  });

  it("tokens per window: a request that may use more than the limit ever allows is refused for good; usage is what counts", async () => {
    const client = anthropic(BOB);
    const err = await ask(client, 5000).catch((e: unknown) => e);
    assert.ok(err instanceof Anthropic.RateLimitError, String(err));
    assert.equal(err.headers?.get("x-should-retry"), "false");
    assert.match((err.error as { error: { message: string } }).error.message, /allows 2000 tokens per minute; this request may use more tokens than the limit ever allows/);
    await ask(client, 100);
    const [row] = (await rows("bob@example.com")).slice(-1);
    const used = row!.input_tokens + row!.output_tokens;
    assert.ok(used > 0);
    // The estimate (100 output tokens and the body) was held, the unused part given back once the usage was known.
    const def = { capacity: 2000, rate: { nanos: 2000, periodMs: 60_000, text: "" }, on_exceed: "reject" as const, admission: "reserve" as const, alerts: [] };
    const peek = async () => (await new QuotaStore(h.gateway.store).peek({ bucket: "tpm:bob@example.com#tokens", quota: "rate:tpm:<user>#tokens", def })).balance;
    for (let i = 0; i < 1000 && (await peek()) < 2000 - used - 5; i++) await new Promise((r) => setTimeout(r, 10));
    const balance = await peek();
    assert.ok(balance >= 2000 - used, `balance ${balance} after using ${used}`);
    assert.ok(balance < 2000 - used + 50, `balance ${balance}: usage was charged`);
  });

  it("concurrent requests: a second while one streams is refused, and admitted once the first ends", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    h.upstream.once(/^\/v1\/messages$/, async () => {
      await gate;
      return sseResponse(anthropicTextStream("claude-sonnet-4-6"));
    });
    const client = anthropic(CAROL);
    const seen = h.upstream.requests.length;
    const first = client.messages.create({ model: "claude-sonnet-4-6", max_tokens: 50, stream: true, messages: [{ role: "user", content: "hi" }] });
    for (let i = 0; i < 2000 && h.upstream.requests.length === seen; i++) await new Promise((r) => setTimeout(r, 5));
    const err = await ask(client).catch((e: unknown) => e);
    assert.ok(err instanceof Anthropic.RateLimitError, String(err));
    assert.match((err.error as { error: { message: string } }).error.message, /allows 1 concurrent requests; retry in 1s/);
    assert.equal(err.headers?.get("retry-after"), "1");
    release();
    for await (const _event of await first) {
      // Drained to the end.
    }
    let admitted: unknown;
    for (let i = 0; i < 50; i++) {
      admitted = await ask(client).catch((e: unknown) => e);
      if (!(admitted instanceof Anthropic.RateLimitError)) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal((admitted as Anthropic.Message).type, "message", String(admitted));
  });

  it("config: a grant naming an undefined rate limit is refused with its path", () => {
    const text = JSON.stringify({ grants: [{ src: ["*"], app: { [CAP]: [{ role: "user", rate_limits: [{ bucket: "nope" }] }] } }] });
    assert.throws(() => parseConfigText(text, {}), /rate_limits references undefined limit "nope"/);
    assert.throws(() => parseConfigText(JSON.stringify({ rate_limits: { "x:<who>": { requests: 1 } } }), {}), /unknown template <who>/);
    assert.throws(() => parseConfigText(JSON.stringify({ rate_limits: { x: {} } }), {}), /set requests, tokens or concurrent/);
  });
});
