// "The gateway never crashes on input": seeded random and mutated inputs against every codec, the shell analyzer and
// the HTTP surface. Failures print the seed and the input that broke.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ROUTES } from "../../gateway/dialects/index.js";
import type { FormatCodec } from "../../gateway/formats/codec.js";
import type { WireEvent } from "../../gateway/stream/framing.js";
import { analyzeToolCall } from "../../gateway/guardrails/analyze.js";
import { defaultCatalog, loadRules } from "../../gateway/guardrails/rules/index.js";
import { capture } from "../fakes/fixtures.js";
import { type Harness, startHarness } from "../helpers/gateway.js";

/** mulberry32: small, seeded, reproducible. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KEYS = ["type", "index", "delta", "content", "content_block", "usage", "input_tokens", "output_tokens", "choices", "tool_calls",
  "function", "arguments", "name", "id", "call_id", "output", "item", "response", "candidates", "parts", "functionCall", "args",
  "usageMetadata", "messages", "role", "input", "model", "stream", "partial_json", "contentBlockIndex", "toolUse", "metadata", "bytes"];
const STRINGS = ["message_start", "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "tool_use",
  "input_json_delta", "function_call", "response.completed", "response.output_item.done", "custom_tool_call", "user", "assistant",
  "tool_result", "functionResponse", "", "{", '{"a":', "[DONE]", "\u0000", "💥", "a".repeat(1000), "__proto__", "constructor"];

function randomValue(rand: () => number, depth = 0): unknown {
  const r = rand();
  if (depth > 4 || r < 0.15) return Math.floor(rand() * 1e6) * (rand() < 0.1 ? -1 : 1);
  if (r < 0.3) return STRINGS[Math.floor(rand() * STRINGS.length)];
  if (r < 0.35) return null;
  if (r < 0.4) return rand() < 0.5;
  if (r < 0.6) return Array.from({ length: Math.floor(rand() * 4) }, () => randomValue(rand, depth + 1));
  const obj: Record<string, unknown> = {};
  for (let i = Math.floor(rand() * 5); i > 0; i--) obj[KEYS[Math.floor(rand() * KEYS.length)]!] = randomValue(rand, depth + 1);
  return obj;
}

/** Cuts, splices and retypes a real fixture. */
function mutate(text: string, rand: () => number): string {
  const at = Math.floor(rand() * text.length);
  switch (Math.floor(rand() * 4)) {
    case 0:
      return text.slice(0, at);
    case 1:
      return text.slice(0, at) + text.slice(at + Math.floor(rand() * 40));
    case 2:
      return text.slice(0, at) + JSON.stringify(randomValue(rand)) + text.slice(at);
    default:
      return text.replace(/"(\w+)":(\d+)/g, (m, k: string) => (rand() < 0.2 ? `"${k}":"x"` : m));
  }
}

const SSE_FIXTURES = ["fixtures/anthropic-messages-tool_use.sse", "fixtures/openai-chat-tool_calls.sse", "fixtures/openai-responses-function_call.sse", "fixtures/gemini-functionCall.sse"];

function sseEvents(text: string): WireEvent[] {
  return text.split("\n\n").map((block) => {
    const name = /^event: (.*)$/m.exec(block)?.[1];
    const data = block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
    return name ? { name, data } : { data };
  });
}

describe("fuzzing", () => {
  const codecs = [...new Map(ROUTES.map((r) => [r.format.id, r.format])).values()] as FormatCodec[];

  it(`every codec survives random and mutated bodies and streams (${codecs.length} codecs)`, () => {
    const seed = 20261126;
    const rand = prng(seed);
    const fixtures = SSE_FIXTURES.map((f) => capture(f)).concat(capture("fixtures/anthropic-messages-tool_use.json"));
    for (let round = 0; round < 400; round++) {
      const value = round % 2 === 0 ? randomValue(rand) : (() => { try { return JSON.parse(mutate(fixtures[round % fixtures.length]!, rand)); } catch { return randomValue(rand); } })();
      const events = round % 3 === 0 ? sseEvents(mutate(fixtures[round % 4]!, rand)) : [{ data: JSON.stringify(value) }, { name: String(randomValue(rand)), data: mutate(JSON.stringify(value), rand) }];
      for (const codec of codecs) {
        const where = `seed ${seed} round ${round} codec ${codec.id} input ${JSON.stringify(value)?.slice(0, 300)}`;
        assert.doesNotThrow(() => codec.requestInfo(value), `requestInfo: ${where}`);
        assert.doesNotThrow(() => codec.toolResults(value), `toolResults: ${where}`);
        assert.doesNotThrow(() => codec.parseResponse(value), `parseResponse: ${where}`);
        assert.doesNotThrow(() => {
          const acc = codec.accumulator();
          for (const e of events) acc.push(e);
          acc.finish();
        }, `accumulator: ${where}`);
        assert.doesNotThrow(() => codec.rebuild?.(events), `rebuild: ${where}`);
      }
    }
  });

  it("the shell analyzer survives random tool calls and hostile scripts", () => {
    const rules = loadRules(defaultCatalog());
    const rand = prng(7);
    const scripts = ["$(", "`", "'", '"', "<<EOF\n", "${", "$((1+", "bash -c 'bash -c \"", "eval $(echo", "echo cm0gLXJmIC8= | base64 -d | sh", "a|".repeat(500), "((((((((", "[[ -f", "\\\n", "&&&", ";;", "|&"];
    for (let i = 0; i < 600; i++) {
      const command = Array.from({ length: 1 + Math.floor(rand() * 4) }, () => scripts[Math.floor(rand() * scripts.length)]).join(rand() < 0.5 ? " " : "");
      const input = i % 3 === 0 ? randomValue(rand) : { command, cmd: command };
      const name = ["Bash", "exec_command", "run_shell_command", "shell", "exec", "apply_patch", "mcp__db__query", String(randomValue(rand))][i % 8]!;
      const call = { id: `c${i}`, name, shape: "tool_use" as const, input: name === "exec" ? command : input, index: 0 };
      assert.doesNotThrow(() => analyzeToolCall(call, rules), `call ${JSON.stringify(call).slice(0, 300)}`);
    }
  });

  describe("over HTTP", () => {
    let h: Harness;
    before(async () => {
      h = await startHarness({ peers: { "127.0.0.2": { login: "fuzz@example.com" } } });
    });
    after(() => h.close());

    it("answers 300 random requests without a gateway error, and still serves afterwards", async () => {
      const rand = prng(42);
      const paths = ["/v1/messages", "/v1/chat/completions", "/v1/responses", "/v1beta/models/gemini-3.8-flash:generateContent", "/v1/projects/p/locations/us/publishers/anthropic/models/claude-x:rawPredict",
        "/bedrock/model/us.anthropic.claude-x/invoke", "/v1/models", "/api/requests", "/v1/ci/sessions", "/%2e%2e/%2e%2e/etc/passwd", "/v1/messages/../../x", "//v1//messages", "/v1beta/models/%00:generateContent", "/api/requests/%ff"];
      const methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];
      const fetchFrom = h.fetchFrom("127.0.0.2");
      const statuses = new Map<number, number>();
      for (let i = 0; i < 300; i++) {
        const path = paths[Math.floor(rand() * paths.length)]! + (rand() < 0.3 ? `?${encodeURIComponent(String(randomValue(rand)))}=1` : "");
        const method = methods[Math.floor(rand() * methods.length)]!;
        const r = rand();
        const body = method === "GET" || method === "OPTIONS" ? undefined : r < 0.4 ? JSON.stringify(randomValue(rand)) : r < 0.7 ? JSON.stringify({ model: rand() < 0.5 ? "claude-sonnet-4-6" : String(randomValue(rand)), messages: randomValue(rand), max_tokens: randomValue(rand), stream: rand() < 0.3 }) : Buffer.from(Array.from({ length: Math.floor(rand() * 200) }, () => Math.floor(rand() * 256)));
        const headers: Record<string, string> = { "content-type": rand() < 0.8 ? "application/json" : "text/plain; charset=latin1" };
        if (rand() < 0.3) headers["content-encoding"] = "gzip";
        if (rand() < 0.2) headers["anthropic-version"] = String(randomValue(rand)).replace(/[^\x20-\x7e]/g, "");
        const res = await fetchFrom(`${h.gateway.url}${path}`, { method, headers, body });
        await res.arrayBuffer();
        assert.ok(res.status !== 500, `${method} ${path} → 500 (seed 42, request ${i})`);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      }
      // The inputs reached every layer: refusals of each kind, and requests the upstream answered.
      for (const status of [200, 400, 404]) assert.ok(statuses.has(status), `no ${status} among ${JSON.stringify([...statuses])}`);
      assert.ok(h.upstream.requests.length > 5, "too few fuzzed requests reached the upstream to mean anything");
      const health = await fetchFrom(`${h.gateway.url}/healthz`);
      assert.equal(health.status, 200);
    });
  });
});
