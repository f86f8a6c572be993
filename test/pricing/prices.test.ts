import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { anthropicUsage } from "../../gateway/dialects/anthropic/codec.js";
import { chatUsage } from "../../gateway/dialects/openai-chat/codec.js";
import { geminiUsage } from "../../gateway/dialects/gemini/codec.js";
import { responsesUsage } from "../../gateway/dialects/openai-responses/codec.js";
import { createPricer } from "../../gateway/pricing/prices.js";

const q = (model: string, priceProvider = "anthropic", provider = "anthropic") => ({ provider, priceProvider, model });

describe("usage normalization", () => {
  it("Anthropic input excludes cache; OpenAI and Gemini include it", () => {
    assert.deepEqual(anthropicUsage({ input_tokens: 10, cache_read_input_tokens: 1000, cache_creation_input_tokens: 100, output_tokens: 5, output_tokens_details: { thinking_tokens: 3 } }), {
      input: 10, cacheRead: 1000, cacheWrite: 100, output: 5, reasoning: 3,
    });
    assert.deepEqual(chatUsage({ prompt_tokens: 1110, completion_tokens: 5, prompt_tokens_details: { cached_tokens: 1000, cache_write_tokens: 100 }, completion_tokens_details: { reasoning_tokens: 2 } }), {
      input: 10, cacheRead: 1000, cacheWrite: 100, output: 5, reasoning: 2,
    });
    assert.deepEqual(responsesUsage({ input_tokens: 1010, input_tokens_details: { cached_tokens: 1000 }, output_tokens: 50, output_tokens_details: { reasoning_tokens: 40 } }), {
      input: 10, cacheRead: 1000, cacheWrite: 0, output: 50, reasoning: 40,
    });
    // Gemini's candidates exclude thoughts; keyless's output includes reasoning.
    assert.deepEqual(geminiUsage({ promptTokenCount: 1010, cachedContentTokenCount: 1000, candidatesTokenCount: 5, thoughtsTokenCount: 7 }), {
      input: 10, cacheRead: 1000, cacheWrite: 0, output: 12, reasoning: 7,
    });
  });

  it("message_delta usage is cumulative: it replaces, and keeps message_start's input when absent", () => {
    const start = anthropicUsage({ input_tokens: 12, cache_read_input_tokens: 3, output_tokens: 1 })!;
    assert.deepEqual(anthropicUsage({ output_tokens: 7 }, start), { input: 12, cacheRead: 3, cacheWrite: 0, output: 7, reasoning: 0 });
  });
});

describe("cost", () => {
  const pricer = createPricer({ "anthropic/claude-x*": { input: 2, output: 10, cache_read: 0.2 } });

  it("prices prompt-cache reads and writes at their own rates (opus-4-8: $5 in, $0.50 read, $6.25 write)", () => {
    // npm-notes: 1M input of which 500k cache read + 250k cache write, no output → $3.0625
    const usage = { input: 250_000, cacheRead: 500_000, cacheWrite: 250_000, output: 0, reasoning: 0 };
    assert.equal(pricer.cost(q("claude-opus-4-8"), usage), 3_062_500_000);
  });

  it("is integer nanodollars", () => {
    const cost = pricer.cost(q("claude-haiku-4-5"), { input: 7, cacheRead: 0, cacheWrite: 0, output: 3, reasoning: 0 });
    assert.equal(cost, 7 * 1000 + 3 * 5000);
    assert.ok(Number.isInteger(cost));
  });

  it("unknown models cost null, never 0", () => {
    assert.equal(pricer.cost(q("gpt-6.2-sol", "openai", "openai"), { input: 10, cacheRead: 0, cacheWrite: 0, output: 10, reasoning: 0 }), null);
    assert.equal(pricer.known(q("gpt-6.2-sol", "openai", "openai")), false);
  });

  it("config overrides win, cache reads at their own override rate", () => {
    assert.equal(pricer.cost(q("claude-x-1"), { input: 1_000_000, cacheRead: 1_000_000, cacheWrite: 0, output: 1_000_000, reasoning: 0 }), 12_200_000_000);
  });

  it("Bedrock regional profiles carry the regional premium", () => {
    const regional = pricer.cost(q("us.anthropic.claude-sonnet-4-6-v1:0", "aws", "bedrock"), { input: 1_000_000, cacheRead: 0, cacheWrite: 0, output: 0, reasoning: 0 });
    assert.equal(regional, 3_300_000_000);
  });
});
