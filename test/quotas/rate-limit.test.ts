// Over quota, every provider route answers 429 with Retry-After and the provider's own error body, and the official
// SDKs raise their rate-limit errors: Anthropic RateLimitError, OpenAI RateLimitError (insufficient_quota), Gemini
// ApiError 429 RESOURCE_EXHAUSTED. SDK retries follow Retry-After, and stop when the refill is too far away.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { ApiError, GoogleGenAI } from "@google/genai";
import { getGlobalDispatcher, setGlobalDispatcher } from "undici";
import { type Harness, sourceAgent, startHarness } from "../helpers/gateway.js";

const CAP = "keyless.dev/cap/gateway";
const ALICE = "127.0.0.2";
const BOB = "127.0.0.3";
const CAROL = "127.0.0.4";

describe("over quota: provider-native 429s", () => {
  let h: Harness;
  const grant = (login: string, bucket: string) => ({ src: [login], app: { [CAP]: [{ role: "user", models: "**", quotas: [{ bucket }] }] } });
  before(async () => {
    h = await startHarness({
      peers: { [ALICE]: { login: "alice@example.com" }, [BOB]: { login: "bob@example.com" }, [CAROL]: { login: "carol@example.com" } },
      config: () => ({
        quotas: {
          // Slow enough that a drained bucket stays short of a request's estimate for seconds, even on a busy machine.
          "hourly:<user>": { capacity: "$1.00", rate: "$0.20/hour" },
          "fast:<user>": { capacity: "$1.00", rate: "$0.04/min" },
          "slow:<user>": { capacity: "$1.00", rate: "$0.01/day" },
        },
        grants: [grant("alice@example.com", "hourly:<user>"), grant("bob@example.com", "fast:<user>"), grant("carol@example.com", "slow:<user>")],
      }),
    });
    await drain("hourly:<user>", "alice");
    await drain("slow:<user>", "carol");
  });
  after(() => h.close());

  /** Spends a bucket down to zero, as earlier requests would have. */
  const drain = async (template: string, user: string) => {
    const def = h.gateway.config().quotas[template]!;
    const bucket = template.replace("<user>", `${user}@example.com`);
    const store = h.gateway.buckets;
    assert.ok((await store.reserve([[{ bucket, quota: template, def }]], (await store.peek({ bucket, quota: template, def })).balance)).ok);
  };

  const denials = async (principal: string) => {
    await h.gateway.requestLog.flush();
    return (await h.gateway.requestLog.list({ principal, limit: 100 })).filter((r) => r.denial?.startsWith("quota:"));
  };
  const retryAfter = (headers: Headers | undefined) => Number(headers?.get("retry-after"));

  it("Anthropic Messages: RateLimitError with rate_limit_error, Retry-After and a message naming the bucket", async () => {
    const client = new Anthropic({ apiKey: "-", baseURL: h.gateway.url, fetch: h.fetchFrom(ALICE), maxRetries: 0 });
    const err = await client.messages.create({ model: "claude-sonnet-4-6", max_tokens: 100, messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
    assert.ok(err instanceof Anthropic.RateLimitError, String(err));
    assert.equal(err.status, 429);
    assert.deepEqual(Object.keys(err.error as object), ["type", "error"]);
    assert.equal((err.error as { error: { type: string } }).error.type, "rate_limit_error");
    assert.match((err.error as { error: { message: string } }).error.message, /^quota exceeded: bucket "hourly:alice@example\.com" has \$0\.0\d* left; this request may cost up to \$0\.001\d+ .*retry in \d+s/);
    const seconds = retryAfter(err.headers);
    // ≈ $0.0015 at $0.20/hour: about half a minute.
    assert.ok(seconds >= 1 && seconds <= 60, `retry-after ${seconds}`);
    assert.equal(err.headers?.get("x-should-retry"), null);
  });

  it("OpenAI Chat and Responses: RateLimitError with insufficient_quota", async () => {
    await drain("hourly:<user>", "alice");
    const client = new OpenAI({ apiKey: "-", baseURL: `${h.gateway.url}/v1`, fetch: h.fetchFrom(ALICE), maxRetries: 0 });
    const chat = await client.chat.completions.create({ model: "gpt-5-mini", max_completion_tokens: 200, messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
    assert.ok(chat instanceof OpenAI.RateLimitError, String(chat));
    assert.equal(chat.code, "insufficient_quota");
    assert.equal(chat.type, "insufficient_quota");
    assert.ok(retryAfter(chat.headers) >= 1);
    const responses = await client.responses.create({ model: "gpt-5-mini", max_output_tokens: 200, input: "hi", stream: true }).catch((e: unknown) => e);
    assert.ok(responses instanceof OpenAI.RateLimitError, String(responses));
    assert.equal(responses.code, "insufficient_quota");
    assert.match(responses.message, /quota exceeded/);
  });

  it("Gemini: ApiError 429 RESOURCE_EXHAUSTED", async () => {
    const previous = getGlobalDispatcher();
    // @google/genai takes no custom fetch: route its connections from Alice's address.
    setGlobalDispatcher(sourceAgent(ALICE));
    try {
      const client = new GoogleGenAI({ apiKey: "-", httpOptions: { baseUrl: h.gateway.url } });
      const err = await client.models.generateContent({ model: "gemini-3.8-flash", contents: "hi" }).catch((e: unknown) => e);
      assert.ok(err instanceof ApiError, String(err));
      assert.equal(err.status, 429);
      assert.match(err.message, /RESOURCE_EXHAUSTED/);
      assert.match(err.message, /no max_tokens set/);
    } finally {
      setGlobalDispatcher(previous);
    }
  });

  it("SDK retries wait for Retry-After, and succeed once the refill covers the request", async () => {
    const client = new Anthropic({ apiKey: "-", baseURL: h.gateway.url, fetch: h.fetchFrom(BOB), maxRetries: 1 });
    await drain("fast:<user>", "bob");
    const started = Date.now();
    const message = await client.messages.create({ model: "claude-sonnet-4-6", max_tokens: 100, messages: [{ role: "user", content: "hi" }] });
    assert.equal(message.type, "message");
    // $0.04/min refills the ≈ $0.0015 reservation in about 2.3 s (time enough for the first attempt to be refused,
    // even on a busy machine); Retry-After is whole seconds.
    assert.ok(Date.now() - started >= 1000, "the SDK waited the Retry-After second");
    assert.equal((await denials("bob@example.com")).length, 1);
  });

  it("SDKs do not retry when the refill is further off than they would wait (x-should-retry: false)", async () => {
    const anthropic = new Anthropic({ apiKey: "-", baseURL: h.gateway.url, fetch: h.fetchFrom(CAROL), maxRetries: 3 });
    const err = await anthropic.messages.create({ model: "claude-sonnet-4-6", max_tokens: 100, messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
    assert.ok(err instanceof Anthropic.RateLimitError);
    assert.ok(retryAfter(err.headers) > 60, `retry-after ${err.headers?.get("retry-after")}`);
    assert.equal(err.headers?.get("x-should-retry"), "false");
    const openai = new OpenAI({ apiKey: "-", baseURL: `${h.gateway.url}/v1`, fetch: h.fetchFrom(CAROL), maxRetries: 3 });
    const err2 = await openai.chat.completions.create({ model: "gpt-5-mini", max_completion_tokens: 10, messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
    assert.ok(err2 instanceof OpenAI.RateLimitError);
    assert.equal((await denials("carol@example.com")).length, 2, "one attempt per client, no retries");
  });
});
