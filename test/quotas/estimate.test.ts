// The reservation is an upper bound of what the pricer will charge for any usage the request allows.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_QUOTA_ESTIMATE } from "../../gateway/config/quotas.js";
import type { FormatCodec } from "../../gateway/formats/codec.js";
import { anthropicMessages } from "../../gateway/dialects/anthropic/codec.js";
import { bedrockConverse } from "../../gateway/dialects/bedrock-converse/codec.js";
import { bedrockInvoke } from "../../gateway/dialects/bedrock-invoke/codec.js";
import { gemini } from "../../gateway/dialects/gemini/codec.js";
import { openaiChat } from "../../gateway/dialects/openai-chat/codec.js";
import { openaiResponses } from "../../gateway/dialects/openai-responses/codec.js";
import type { Usage } from "../../gateway/formats/types.js";
import { createPricer } from "../../gateway/pricing/prices.js";
import type { Exchange } from "../../gateway/proxy/exchange.js";
import { estimateCost, referencesContent, toolLoopInput } from "../../gateway/quotas/estimate.js";
import { settlement } from "../../gateway/quotas/plugin.js";

const PRICE_PROVIDER: Record<string, string> = { anthropic: "anthropic", openai: "openai", gemini: "google", bedrock: "aws" };

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
  const R = { nanos: 1000, feeNanos: 0, toolCallFee: 0, tierMultiplier: 1 };
  const ok = { status: 200, durationMs: 1, firstByteMs: 1, summary: { usage: null, toolCalls: [] }, toolCalls: [] };
  it("charges the actual cost, the reservation when the cost is unknown or the stream broke off, nothing when refused", () => {
    assert.deepEqual(settlement(R, { ...ok, costNanos: 300 }), { charged: 300, atReservation: false });
    assert.deepEqual(settlement(R, { ...ok, costNanos: 1300 }), { charged: 1300, atReservation: false });
    assert.deepEqual(settlement(R, { ...ok, costNanos: null }), { charged: 1000, atReservation: true });
    assert.deepEqual(settlement(R, { ...ok, costNanos: 200, error: "client disconnected" }), { charged: 1000, atReservation: true });
    assert.deepEqual(settlement(R, { ...ok, costNanos: 1200, error: "upstream stream broke" }), { charged: 1200, atReservation: true });
    assert.deepEqual(settlement(R, { ...ok, status: 500, costNanos: 0, error: "upstream status 500" }), { charged: 0, atReservation: false });
    assert.deepEqual(settlement(R, { ...ok, status: 403, costNanos: 0, denial: { kind: "permission", category: "guardrail", message: "no" } }), { charged: 0, atReservation: false });
  });

  it("keeps the reservation of a request the provider may have received, refunds one it provably never got", () => {
    const failed = (unsent?: boolean) => ({ ...ok, status: 502, costNanos: 0, denial: { kind: "upstream" as const, category: "upstream", message: "x", ...(unsent === undefined ? {} : { unsent }) } });
    assert.deepEqual(settlement(R, failed()), { charged: 1000, atReservation: true }, "client gone, answer not read; upstream cut");
    assert.deepEqual(settlement(R, failed(false)), { charged: 1000, atReservation: true });
    assert.deepEqual(settlement(R, failed(true)), { charged: 0, atReservation: false }, "connection refused");
  });
});

// Issue 11, hole 3: everything that can make a request expensive is in the estimate.
describe("estimate bypasses", () => {
  const est = (format: FormatCodec, provider: string, model: string, body: Record<string, unknown>) => estimateCost(request(format, provider, model, body), pricer, DEFAULT_QUOTA_ESTIMATE);
  const geminiOut = (body: Record<string, unknown>) => est(gemini, "gemini", "gemini-2.5-flash", { contents: [], ...body });

  it("reads Gemini's generation config in every proto3 JSON spelling, integers as numbers or strings", () => {
    for (const configKey of ["generationConfig", "generation_config"]) {
      for (const maxKey of ["maxOutputTokens", "max_output_tokens"]) {
        for (const countKey of ["candidateCount", "candidate_count"]) {
          for (const [max, n] of [[5000, 3], ["5000", "3"]] as const) {
            const e = geminiOut({ [configKey]: { [maxKey]: max, [countKey]: n } });
            assert.equal(e.outputTokens, 15_000, `${configKey}.${maxKey}=${JSON.stringify(max)}, ${countKey}=${JSON.stringify(n)}`);
            assert.equal(e.capped, true);
          }
        }
      }
    }
    // Spelled twice: the worst counts, whichever the provider keeps.
    assert.equal(geminiOut({ generationConfig: { maxOutputTokens: 10, max_output_tokens: 60_000 }, generation_config: { candidate_count: 2 } }).outputTokens, 120_000);
    assert.equal(geminiOut({ generationConfig: { maxOutputTokens: "lots" } }).capped, false, "an unreadable cap is no cap");
  });

  it("reads OpenAI's caps and choices at their worst: max_tokens and max_completion_tokens, n as a string", () => {
    const chat = (body: Record<string, unknown>) => est(openaiChat, "openai", "gpt-5", { model: "gpt-5", messages: [], ...body });
    assert.equal(chat({ max_completion_tokens: 10, max_tokens: 5000 }).outputTokens, 5000);
    assert.equal(chat({ max_completion_tokens: 5000, max_tokens: 10 }).outputTokens, 5000);
    assert.equal(chat({ max_tokens: 100, n: "4" }).outputTokens, 400);
    assert.equal(est(openaiResponses, "openai", "gpt-5", { model: "gpt-5", max_output_tokens: "700", input: "x" }).outputTokens, 700);
    assert.equal(est(bedrockConverse, "bedrock", "anthropic.claude-sonnet-4-6", { inferenceConfig: { maxTokens: 300 }, messages: [] }).outputTokens, 300);
    assert.equal(est(bedrockInvoke, "bedrock", "anthropic.claude-sonnet-4-6", { max_tokens: 200, messages: [] }).outputTokens, 200);
  });

  const referenced: [string, FormatCodec, string, string, Record<string, unknown>][] = [
    ["Anthropic document by URL", anthropicMessages, "anthropic", "claude-sonnet-4-6", { content: [{ type: "document", source: { type: "url", url: "https://example.com/a.pdf" } }] }],
    ["Anthropic image by URL", anthropicMessages, "anthropic", "claude-sonnet-4-6", { content: [{ type: "image", source: { type: "url", url: "https://example.com/a.png" } }] }],
    ["Anthropic file", anthropicMessages, "anthropic", "claude-sonnet-4-6", { content: [{ type: "document", source: { type: "file", file_id: "file_011" } }] }],
    ["Anthropic image in a tool result", anthropicMessages, "anthropic", "claude-sonnet-4-6", { content: [{ type: "tool_result", tool_use_id: "t", content: [{ type: "image", source: { type: "url", url: "https://x/y.png" } }] }] }],
    ["Anthropic container upload", anthropicMessages, "anthropic", "claude-sonnet-4-6", { content: [{ type: "container_upload", file_id: "file_012" }] }],
    ["OpenAI Chat image_url", openaiChat, "openai", "gpt-5", { content: [{ type: "image_url", image_url: { url: "https://example.com/a.png", detail: "high" } }] }],
    ["OpenAI Chat file id", openaiChat, "openai", "gpt-5", { content: [{ type: "file", file: { file_id: "file-abc" } }] }],
    ["OpenAI Responses input_image URL", openaiResponses, "openai", "gpt-5", { content: [{ type: "input_image", image_url: "https://example.com/a.png" }] }],
    ["OpenAI Responses input_file URL", openaiResponses, "openai", "gpt-5", { content: [{ type: "input_file", file_url: "https://example.com/a.pdf" }] }],
    ["OpenAI Responses input_file id", openaiResponses, "openai", "gpt-5", { content: [{ type: "input_file", file_id: "file-abc" }] }],
    ["Gemini fileData", gemini, "gemini", "gemini-2.5-flash", { parts: [{ fileData: { mimeType: "video/mp4", fileUri: "https://generativelanguage.googleapis.com/v1beta/files/x" } }] }],
    ["Gemini file_data", gemini, "gemini", "gemini-2.5-flash", { parts: [{ file_data: { mime_type: "application/pdf", file_uri: "gs://bucket/a.pdf" } }] }],
    ["Bedrock S3 document", bedrockConverse, "bedrock", "anthropic.claude-sonnet-4-6", { content: [{ document: { format: "pdf", name: "a", source: { s3Location: { uri: "s3://b/a.pdf" } } } }] }],
  ];
  const wrap = (format: FormatCodec, part: Record<string, unknown>): Record<string, unknown> =>
    format === gemini ? { contents: [{ role: "user", ...part }] } : format === openaiResponses ? { input: [{ role: "user", ...part }] } : { messages: [{ role: "user", ...part }] };

  it("reserves the model's context window for media by URL or file id, in every provider's shape", () => {
    for (const [name, format, provider, model, part] of referenced) {
      const body = { model, max_tokens: 10, max_output_tokens: 10, ...wrap(format, part) };
      const e = est(format, provider, model, body);
      assert.ok(e.byReference, name);
      const window = pricer.facts({ provider, priceProvider: PRICE_PROVIDER[provider]!, model }).contextWindow ?? DEFAULT_QUOTA_ESTIMATE.context_tokens;
      assert.equal(e.inputTokens, window, name);
    }
  });

  it("reserves the context window for stored context: previous responses, conversations, prompts, cached content", () => {
    for (const body of [{ previous_response_id: "resp_1" }, { conversation: "conv_1" }, { prompt: { id: "pmpt_1" } }]) {
      assert.ok(est(openaiResponses, "openai", "gpt-5", { model: "gpt-5", input: "x", ...body }).byReference, JSON.stringify(body));
    }
    for (const body of [{ cachedContent: "cachedContents/1" }, { cached_content: "cachedContents/1" }]) assert.ok(geminiOut(body).byReference);
    assert.equal(referencesContent({ prompt: "Human: hi" }, '{"prompt":"Human: hi"}'), false, "a prompt given as text is in the body");
  });

  it("keeps inline media at its body size (data: URLs, base64 sources, inlineData), and text that only mentions the keys", () => {
    const inline: [FormatCodec, string, string, Record<string, unknown>][] = [
      [anthropicMessages, "anthropic", "claude-sonnet-4-6", { content: [{ type: "image", source: { type: "base64", media_type: "image/png", data: "iVBOR" } }] }],
      [openaiChat, "openai", "gpt-5", { content: [{ type: "image_url", image_url: { url: "data:image/png;base64,iVBOR" } }] }],
      [openaiResponses, "openai", "gpt-5", { content: [{ type: "input_image", image_url: "data:image/png;base64,iVBOR" }] }],
      [gemini, "gemini", "gemini-2.5-flash", { parts: [{ inlineData: { mimeType: "image/png", data: "iVBOR" } }] }],
      [anthropicMessages, "anthropic", "claude-sonnet-4-6", { content: 'see {"source":{"type":"url"},"file_id":"f"}' }],
    ];
    for (const [format, provider, model, part] of inline) {
      const body = { model, max_tokens: 10, ...wrap(format, part) };
      assert.equal(est(format, provider, model, body).byReference, false, JSON.stringify(part));
    }
    assert.equal(referencesContent({ a: [{ b: { c: { source: { type: "file", file_id: "x" } } } }] }, '{"a":[{"b":{"c":{"source":'), true);
  });

  it("walks a deeply nested body without overflowing the stack", () => {
    let deep: unknown = { source: { type: "url", url: "https://x" } };
    for (let i = 0; i < 100_000; i++) deep = [deep];
    assert.equal(referencesContent({ messages: deep }, '[{"source":'), true);
    const wide = [...Array.from({ length: 1_000_000 }, () => ({ type: "text", text: "x" })), { source: { type: "file", file_id: "f" } }];
    assert.equal(referencesContent({ messages: wide }, '[{"source":'), true, "a million parts, no spread of them onto the stack");
  });

  it("reserves server tools: each allowed call adds its results and one more model call over the context, and its fee", () => {
    const ant = (tools: unknown[], extra: Record<string, unknown> = {}) =>
      est(anthropicMessages, "anthropic", "claude-sonnet-4-6", { model: "claude-sonnet-4-6", max_tokens: 100, messages: [], tools, ...extra });
    const tools = [{ type: "web_search_20250305", name: "web_search", max_uses: 3 }, { type: "web_fetch_20250910", name: "web_fetch", max_uses: 2 }];
    const capped = ant(tools);
    const body = Math.ceil(Buffer.byteLength(JSON.stringify({ model: "claude-sonnet-4-6", max_tokens: 100, messages: [], tools })) / 2);
    assert.equal(capped.toolCalls, 5);
    assert.equal(capped.feeNanos, 5 * 10_000_000, "Anthropic web search: $10 per 1,000 in the price table");
    assert.equal(capped.outputTokens, 100, "max_tokens bounds the whole response, tool turns included");
    const R = DEFAULT_QUOTA_ESTIMATE.server_tool_result_tokens;
    assert.equal(capped.inputTokens, 6 * body + R * (1 + 2 + 3 + 4 + 5), "six model calls, each over the body and the results so far");
    assert.equal(capped.toolCallsCapped, true);
    const uncapped = ant([{ type: "web_search_20250305", name: "web_search" }]);
    assert.equal(uncapped.toolCalls, 0 + DEFAULT_QUOTA_ESTIMATE.server_tool_calls);
    assert.equal(uncapped.toolCallsCapped, false);
    assert.equal(ant([{ type: "code_execution_20250825", name: "code_execution" }]).toolCalls, 10);
    assert.equal(ant([], { mcp_servers: [{ type: "url", url: "https://mcp.example", name: "x" }] }).toolCalls, 10);
    const client = ant([{ type: "bash_20250124", name: "bash" }, { type: "text_editor_20250728", name: "str_replace_based_edit_tool" }, { name: "f", input_schema: { type: "object" } }]);
    assert.equal(client.toolCalls, 0, "client-side tools cost nothing at the provider");
    assert.equal(client.feeNanos, 0);

    const responses = (body: Record<string, unknown>) => est(openaiResponses, "openai", "gpt-5", { model: "gpt-5", input: "x", max_output_tokens: 10, ...body });
    assert.equal(responses({ tools: [{ type: "web_search" }, { type: "file_search", vector_store_ids: ["vs"] }], max_tool_calls: 4 }).toolCalls, 4);
    assert.equal(responses({ tools: [{ type: "code_interpreter", container: { type: "auto" } }] }).toolCalls, 10);
    assert.equal(responses({ tools: [{ type: "function", name: "f" }, { type: "custom", name: "apply_patch" }] }).toolCalls, 0);
    assert.equal(est(openaiChat, "openai", "gpt-4o-search-preview", { model: "gpt-4o-search-preview", messages: [], web_search_options: {} }).toolCalls, 10);

    for (const tool of [{ googleSearch: {} }, { google_search: {} }, { url_context: {} }, { codeExecution: {} }, { google_search_retrieval: {} }]) {
      assert.equal(geminiOut({ tools: [tool] }).toolCalls, 10, JSON.stringify(tool));
    }
    assert.equal(geminiOut({ tools: [{ functionDeclarations: [{ name: "f" }] }] }).toolCalls, 0);
    assert.equal(capped.toolCallFee, 10_000_000);
    assert.equal(geminiOut({ tools: [{ googleSearch: {} }] }).feeNanos, 10 * DEFAULT_QUOTA_ESTIMATE.server_tool_fee, "no fee in the table: server_tool_fee");
  });

  it("sums a tool loop's input in closed form, growing to the context window and never past it", () => {
    const brute = (first: number, calls: number, per: number, window: number) => {
      let total = 0;
      for (let k = 0; k <= calls; k++) total += first >= window ? first : Math.min(window, first + k * per);
      return total;
    };
    for (const [first, calls, per, window] of [[1000, 0, 10, 5000], [1000, 10, 500, 5000], [1000, 10, 400, 5000], [6000, 3, 100, 5000], [10, 7, 0, 100], [0, 1000, 1, 100]]) {
      assert.equal(toolLoopInput(first!, calls!, per!, window!), brute(first!, calls!, per!, window!), JSON.stringify([first, calls, per, window]));
    }
    const huge = est(anthropicMessages, "anthropic", "claude-sonnet-4-6", { model: "claude-sonnet-4-6", max_tokens: 1e300, messages: [], tools: [{ type: "web_search_20250305", name: "web_search", max_uses: 1e12 }] });
    assert.equal(huge.nanos, Number.MAX_SAFE_INTEGER, "absurd caps still give a number every bucket refuses");
  });

  it("bounds the cost of every usage a server-tool request allows when results fit server_tool_result_tokens, with its fees", () => {
    const body = { model: "claude-sonnet-4-6", max_tokens: 1000, messages: [{ role: "user", content: "search" }], tools: [{ type: "web_search_20250305", name: "web_search", max_uses: 2 }] };
    const e = est(anthropicMessages, "anthropic", "claude-sonnet-4-6", body);
    const q = { provider: "anthropic", priceProvider: "anthropic", model: "claude-sonnet-4-6" };
    const b = Math.ceil(Buffer.byteLength(JSON.stringify(body)) / 2);
    const R = DEFAULT_QUOTA_ESTIMATE.server_tool_result_tokens;
    // Three model calls over the body and the results so far, all written to the cache, every output token used.
    const worst = pricer.cost(q, { input: 0, cacheRead: 0, cacheWrite: 3 * b + 3 * R, output: 1000, reasoning: 0 })!;
    assert.ok(worst + 2 * 10_000_000 <= e.nanos);
  });

  it("counts the calls the provider ran itself in responses that list them (Anthropic, OpenAI Responses), not in others", () => {
    const message = {
      type: "message",
      content: [
        { type: "server_tool_use", id: "srvtoolu_1", name: "web_search", input: { query: "a" } },
        { type: "web_search_tool_result", tool_use_id: "srvtoolu_1", content: [] },
        { type: "server_tool_use", id: "srvtoolu_2", name: "web_search", input: { query: "b" } },
        { type: "tool_use", id: "toolu_1", name: "Bash", input: { command: "ls" } },
      ],
      usage: { input_tokens: 1, output_tokens: 1 },
    };
    assert.equal(anthropicMessages.parseResponse(message).serverToolCalls, 2);
    const response = { output: [{ type: "web_search_call", id: "ws_1", status: "completed" }, { type: "function_call", call_id: "c", name: "f", arguments: "{}" }, { type: "message", content: [] }] };
    assert.equal(openaiResponses.parseResponse(response).serverToolCalls, 1);
    assert.equal(gemini.parseResponse({ candidates: [{ content: { parts: [{ text: "x" }] } }], usageMetadata: {} }).serverToolCalls, 0, "not grounded");
    const grounded = (metadata: Record<string, unknown>) => ({ candidates: [{ content: { parts: [{ text: "x" }] }, groundingMetadata: metadata }] });
    assert.equal(gemini.parseResponse(grounded({ webSearchQueries: ["a", "b"] })).serverToolCalls, 2, "Gemini 3 bills per search query");
    assert.equal(gemini.parseResponse(grounded({ groundingChunks: [] })).serverToolCalls, 1, "a grounded prompt");
    const acc = gemini.accumulator();
    for (const chunk of [grounded({ webSearchQueries: ["a"] }), { candidates: [{ content: { parts: [{ text: "y" }] } }] }, grounded({ webSearchQueries: ["a", "c"] })]) {
      acc.push({ data: JSON.stringify(chunk) });
    }
    assert.equal(acc.finish().serverToolCalls, 2, "distinct queries across a stream");
    assert.equal(openaiChat.parseResponse({ choices: [] }).serverToolCalls, undefined, "Chat search models do not list their searches");
  });

  it("multiplies a premium service tier (OpenAI priority), estimate and settlement alike", () => {
    const body = { model: "gpt-5", max_completion_tokens: 1000, messages: [] };
    const standard = est(openaiChat, "openai", "gpt-5", { ...body, service_tier: "xxxxxxxx" }); // same size, no premium
    const priority = est(openaiChat, "openai", "gpt-5", { ...body, service_tier: "priority" });
    assert.equal(priority.nanos, standard.nanos * 2);
    assert.equal(est(openaiChat, "openai", "gpt-5", { ...body, service_tier: "flex" }).tierMultiplier, 1, "flex costs less than the list price");
    assert.equal(est(openaiResponses, "openai", "gpt-5", { model: "gpt-5", input: "x", service_tier: "priority" }).tierMultiplier, 2);
    assert.equal(est(bedrockConverse, "bedrock", "x", { performanceConfig: { latency: "optimized" } }).tierMultiplier, 2);
    const ok = { status: 200, durationMs: 1, firstByteMs: 1, summary: { usage: null, toolCalls: [] }, toolCalls: [] };
    assert.deepEqual(settlement(priority, { ...ok, costNanos: 1001 }), { charged: 2002, atReservation: false });
    const fees = { nanos: 5000, feeNanos: 700, toolCallFee: 350, tierMultiplier: 1 };
    assert.deepEqual(settlement(fees, { ...ok, costNanos: 100 }), { charged: 800, atReservation: false }, "calls not shown: fees as reserved");
    const shown = (n: number) => ({ ...ok, summary: { usage: null, toolCalls: [], serverToolCalls: n } });
    assert.deepEqual(settlement(fees, { ...shown(1), costNanos: 100 }), { charged: 450, atReservation: false }, "one call shown: one fee");
    assert.deepEqual(settlement(fees, { ...shown(0), costNanos: 100 }), { charged: 100, atReservation: false }, "no call: no fee");
    assert.deepEqual(settlement(fees, { ...shown(0), costNanos: 100, error: "client disconnected" }), { charged: 5000, atReservation: true });
    assert.deepEqual(settlement(fees, { ...ok, status: 400, costNanos: 0 }), { charged: 0, atReservation: false }, "an error answer is not billed");
  });
});
