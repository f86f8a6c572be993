import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bedrockConverse } from "../../gateway/dialects/bedrock-converse/codec.js";
import { bedrockInvoke } from "../../gateway/dialects/bedrock-invoke/codec.js";
import type { WireEvent } from "../../gateway/stream/framing.js";
import { vertexAnthropic } from "../../gateway/dialects/vertex-anthropic/codec.js";
import { exceptionEvent } from "../../gateway/stream/eventstream.js";

const chunk = (event: unknown): WireEvent => ({ name: "chunk", data: JSON.stringify({ bytes: Buffer.from(JSON.stringify(event)).toString("base64") }) });

describe("Bedrock and Vertex codecs", () => {
  it("InvokeModel streams of non-Anthropic models take usage from amazon-bedrock-invocationMetrics", () => {
    const acc = bedrockInvoke.accumulator();
    acc.push(chunk({ generation: "hi", prompt_token_count: 9 }));
    acc.push(chunk({ generation: "", stop_reason: "stop", "amazon-bedrock-invocationMetrics": { inputTokenCount: 9, outputTokenCount: 3, cacheReadInputTokenCount: 2 } }));
    assert.deepEqual(acc.finish().usage, { input: 9, cacheRead: 2, cacheWrite: 0, output: 3, reasoning: 0 });
  });

  it("reports exception frames as the stream's error", () => {
    for (const codec of [bedrockInvoke, bedrockConverse]) {
      const acc = codec.accumulator();
      acc.push(exceptionEvent("throttlingException", "Too many tokens, please wait before trying again."));
      assert.equal(acc.finish().error, "throttlingException: Too many tokens, please wait before trying again.");
    }
  });

  it("Converse: a stream cut inside a tool block is an error; whole calls parse their JSON fragments", () => {
    const acc = bedrockConverse.accumulator();
    acc.push({ name: "contentBlockStart", data: JSON.stringify({ contentBlockIndex: 1, start: { toolUse: { toolUseId: "t1", name: "bash" } } }) });
    acc.push({ name: "contentBlockDelta", data: JSON.stringify({ contentBlockIndex: 1, delta: { toolUse: { input: '{"command":' } } }) });
    assert.equal(acc.finish().error, "stream ended inside a content block");
    acc.push({ name: "contentBlockDelta", data: JSON.stringify({ contentBlockIndex: 1, delta: { toolUse: { input: '"ls"}' } } }) });
    acc.push({ name: "contentBlockStop", data: JSON.stringify({ contentBlockIndex: 1 }) });
    acc.push({ name: "metadata", data: JSON.stringify({ usage: { inputTokens: 5, outputTokens: 2, cacheReadInputTokens: 100, cacheWriteInputTokens: 10 } }) });
    const summary = acc.finish();
    assert.deepEqual(summary.toolCalls, [{ id: "t1", name: "bash", shape: "converse_tool_use", input: { command: "ls" }, index: 1 }]);
    assert.deepEqual(summary.usage, { input: 5, cacheRead: 100, cacheWrite: 10, output: 2, reasoning: 0 });
    assert.equal(summary.error, undefined);
  });

  it("Converse: tool results come from the newest user turn", () => {
    const results = bedrockConverse.toolResults({
      messages: [
        { role: "user", content: [{ toolResult: { toolUseId: "old", content: [{ text: "stale" }] } }] },
        { role: "assistant", content: [{ toolUse: { toolUseId: "t1", name: "bash", input: {} } }] },
        { role: "user", content: [{ toolResult: { toolUseId: "t1", status: "error", content: [{ text: "exit 1" }, { json: { code: 1 } }] } }] },
      ],
    });
    assert.deepEqual(results, [{ callId: "t1", isError: true, output: 'exit 1\n{"code":1}' }]);
  });

  it("AWS error bodies are read as errors, not as empty responses", () => {
    assert.equal(bedrockConverse.parseResponse({ message: "The model is not ready" }).error, "The model is not ready");
    assert.equal(bedrockInvoke.parseResponse({ Message: "Malformed input request" }).error, "Malformed input request");
  });

  it("gateway errors: Bedrock's x-amzn-ErrorType + {message}, Vertex Claude's Google envelope", async () => {
    const aws = bedrockConverse.errorResponse({ kind: "rate_limit", message: "quota exhausted" });
    assert.equal(aws.status, 429);
    assert.equal(aws.headers.get("x-amzn-errortype"), "ThrottlingException");
    assert.deepEqual(await aws.json(), { message: "quota exhausted" });
    const google = vertexAnthropic.errorResponse({ kind: "permission", message: "no grant" });
    assert.deepEqual(await google.json(), { error: { code: 403, message: "no grant", status: "PERMISSION_DENIED" } });
    // The stream error stays Anthropic's: the body is an Anthropic SSE stream.
    assert.equal(vertexAnthropic.streamError("cut")?.name, "error");
  });
});
