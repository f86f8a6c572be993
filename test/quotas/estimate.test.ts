// The reservation is an upper bound of what the pricer will charge for any usage the request allows.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_QUOTA_ESTIMATE } from "../../gateway/config/quotas.js";
import type { FormatCodec } from "../../gateway/formats/codec.js";
import { anthropicMessages } from "../../gateway/formats/anthropic.js";
import { gemini } from "../../gateway/formats/gemini.js";
import { openaiChat } from "../../gateway/formats/openai-chat.js";
import { openaiResponses } from "../../gateway/formats/openai-responses.js";
import type { Usage } from "../../gateway/formats/types.js";
import { createPricer } from "../../gateway/pricing/prices.js";
import type { Exchange } from "../../gateway/proxy/exchange.js";
import { estimateCost } from "../../gateway/quotas/estimate.js";
import { settlement } from "../../gateway/quotas/plugin.js";

const PRICE_PROVIDER: Record<string, string> = { anthropic: "anthropic", openai: "openai", gemini: "google" };

function request(format: FormatCodec, provider: string, model: string, body: Record<string, unknown>) {
  return {
    body,
    info: format.requestInfo(body),
    format,
    provider: { name: provider, adapter: { priceProvider: PRICE_PROVIDER[provider] } },
    model,
  } as unknown as Exchange;
}

const pricer = createPricer({});
const text = (n: number) => "x".repeat(n);

describe("cost estimate", () => {
  it("bounds the cost of every usage within the request's limits, cache writes and long-context tiers included", () => {
    const cases = [
      request(anthropicMessages, "anthropic", "claude-sonnet-4-6", { model: "claude-sonnet-4-6", max_tokens: 4096, messages: [{ role: "user", content: text(1_000_000) }] }),
      request(openaiChat, "openai", "gpt-5", { model: "gpt-5", max_completion_tokens: 1000, messages: [{ role: "user", content: text(20_000) }] }),
      request(openaiResponses, "openai", "gpt-5-mini", { model: "gpt-5-mini", max_output_tokens: 500, input: text(3000) }),
      request(gemini, "gemini", "gemini-2.5-pro", { contents: [{ parts: [{ text: text(900_000) }] }], generationConfig: { maxOutputTokens: 8192 } }),
    ];
    for (const req of cases) {
      const e = estimateCost(req, pricer, DEFAULT_QUOTA_ESTIMATE);
      assert.ok(e.capped && e.priced);
      const q = { provider: req.provider.name, priceProvider: req.provider.adapter.priceProvider, model: req.model };
      // The worst real usages: all input written to cache, all read, all plain, with every output token used.
      const worst: Usage[] = [
        { input: 0, cacheRead: 0, cacheWrite: e.inputTokens, output: e.outputTokens, reasoning: e.outputTokens },
        { input: e.inputTokens, cacheRead: 0, cacheWrite: 0, output: e.outputTokens, reasoning: 0 },
        { input: e.inputTokens / 2, cacheRead: e.inputTokens / 2, cacheWrite: 0, output: e.outputTokens, reasoning: 0 },
      ];
      for (const u of worst) assert.ok(pricer.cost(q, u)! <= e.nanos, `${req.model}: ${pricer.cost(q, u)} > ${e.nanos}`);
    }
  });

  it("prices Anthropic input at the cache-write rate and crosses the long-context tier", () => {
    const small = estimateCost(request(anthropicMessages, "anthropic", "claude-sonnet-4-6", { model: "claude-sonnet-4-6", max_tokens: 0, messages: [] }), pricer, DEFAULT_QUOTA_ESTIMATE);
    const bytes = Buffer.byteLength(JSON.stringify({ model: "claude-sonnet-4-6", max_tokens: 0, messages: [] }));
    assert.equal(small.nanos, Math.ceil(bytes / 2) * 3750, "$3.75/Mtok cache write, not $3 input");
    const long = estimateCost(request(anthropicMessages, "anthropic", "claude-sonnet-4-6", { model: "claude-sonnet-4-6", max_tokens: 0, messages: [{ role: "user", content: text(500_000) }] }), pricer, DEFAULT_QUOTA_ESTIMATE);
    assert.ok(long.inputTokens > 200_000);
    assert.equal(long.nanos, long.inputTokens * 3750, "Sonnet 4.6 prices its 1M context flat");
  });

  it("crosses a long-context price tier for the whole prompt", () => {
    const ask = (chars: number) =>
      estimateCost(request(gemini, "gemini", "gemini-2.5-pro", { contents: [{ parts: [{ text: text(chars) }] }], generationConfig: { maxOutputTokens: 0 } }), pricer, DEFAULT_QUOTA_ESTIMATE);
    const short = ask(100_000);
    const long = ask(500_000);
    assert.ok(short.inputTokens < 200_000 && long.inputTokens > 200_000);
    assert.equal(short.nanos, short.inputTokens * 1250, "$1.25/Mtok up to 200k tokens");
    assert.equal(long.nanos, long.inputTokens * 2500, "above 200k tokens the $2.50/Mtok tier applies to all");
  });

  it("multiplies the output cap by the number of choices", () => {
    const one = estimateCost(request(openaiChat, "openai", "gpt-5", { model: "gpt-5", max_tokens: 1000, messages: [] }), pricer, DEFAULT_QUOTA_ESTIMATE);
    const three = estimateCost(request(openaiChat, "openai", "gpt-5", { model: "gpt-5", max_tokens: 1000, n: 3, messages: [] }), pricer, DEFAULT_QUOTA_ESTIMATE);
    assert.equal(three.outputTokens, 3000);
    assert.ok(three.nanos > one.nanos);
    const g = estimateCost(request(gemini, "gemini", "gemini-2.5-flash", { contents: [], generationConfig: { maxOutputTokens: 100, candidateCount: 4 } }), pricer, DEFAULT_QUOTA_ESTIMATE);
    assert.equal(g.outputTokens, 400);
  });

  it("assumes uncapped_output_tokens when the request sets no cap, and unknown_price for unpriced models", () => {
    const settings = { ...DEFAULT_QUOTA_ESTIMATE, bytes_per_token: 1, uncapped_output_tokens: 1000, unknown_price: { input: 10, output: 100 } };
    const uncapped = estimateCost(request(openaiChat, "openai", "gpt-5", { model: "gpt-5", messages: [] }), pricer, settings);
    assert.equal(uncapped.capped, false);
    assert.equal(uncapped.outputTokens, 1000);
    const body = { model: "claude-mystery", max_tokens: 10, messages: [] };
    const unpriced = estimateCost(request(anthropicMessages, "anthropic", "claude-mystery", body), pricer, settings);
    assert.equal(unpriced.priced, false);
    assert.equal(unpriced.nanos, (Buffer.byteLength(JSON.stringify(body)) * 10 + 10 * 100) * 1000);
  });

  it("uses the config's price overrides, as the actual cost will", () => {
    const overridden = createPricer({ "anthropic/claude-*": { input: 1, output: 2, cache_write: 1 } });
    const body = { model: "claude-sonnet-4-6", max_tokens: 100, messages: [] };
    const e = estimateCost(request(anthropicMessages, "anthropic", "claude-sonnet-4-6", body), overridden, DEFAULT_QUOTA_ESTIMATE);
    assert.equal(e.nanos, Math.ceil(Buffer.byteLength(JSON.stringify(body)) / 2) * 1000 + 100 * 2000);
  });
});

describe("settlement", () => {
  const ok = { status: 200, durationMs: 1, firstByteMs: 1, summary: { usage: null, toolCalls: [] }, toolCalls: [] };
  it("charges the actual cost, the reservation when the cost is unknown or the stream broke off, nothing when refused", () => {
    assert.deepEqual(settlement(1000, { ...ok, costNanos: 300 }), { charged: 300, atReservation: false });
    assert.deepEqual(settlement(1000, { ...ok, costNanos: 1300 }), { charged: 1300, atReservation: false });
    assert.deepEqual(settlement(1000, { ...ok, costNanos: null }), { charged: 1000, atReservation: true });
    assert.deepEqual(settlement(1000, { ...ok, costNanos: 200, error: "client disconnected" }), { charged: 1000, atReservation: true });
    assert.deepEqual(settlement(1000, { ...ok, costNanos: 1200, error: "upstream stream broke" }), { charged: 1200, atReservation: true });
    assert.deepEqual(settlement(1000, { ...ok, status: 500, costNanos: 0, error: "upstream status 500" }), { charged: 0, atReservation: false });
    assert.deepEqual(settlement(1000, { ...ok, status: 403, costNanos: 0, denial: { kind: "permission", category: "guardrail", message: "no" } }), { charged: 0, atReservation: false });
  });

  it("keeps the reservation of a request the provider may have received, refunds one it provably never got", () => {
    const failed = (unsent?: boolean) => ({ ...ok, status: 502, costNanos: 0, denial: { kind: "upstream" as const, category: "upstream", message: "x", ...(unsent === undefined ? {} : { unsent }) } });
    assert.deepEqual(settlement(1000, failed()), { charged: 1000, atReservation: true }, "client gone, answer not read; upstream cut");
    assert.deepEqual(settlement(1000, failed(false)), { charged: 1000, atReservation: true });
    assert.deepEqual(settlement(1000, failed(true)), { charged: 0, atReservation: false }, "connection refused");
  });
});
