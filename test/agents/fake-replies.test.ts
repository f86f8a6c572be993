// The fake upstream's closing answers, read by the official SDKs: a request that reports a tool result gets a text
// message (streamed and not), a JSON-mode request gets JSON, and anything else still gets the tool-call fixtures. The
// real CLIs read the streamed forms in the other tests here; this covers every form and the default.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { GoogleGenAI } from "@google/genai";
import OpenAI from "openai";
import { FINAL_TEXT } from "../fakes/replies.js";
import { type FakeUpstream, startFakeUpstream } from "../fakes/upstream.js";
import { KEYS } from "../helpers/gateway.js";

describe("fake upstream: tool loops end", () => {
  let up: FakeUpstream;
  before(async () => {
    up = await startFakeUpstream({ keys: KEYS });
  });
  after(() => up.close());

  it("Anthropic: a tool_result turn gets end_turn text, streamed and not; a first turn still gets tool_use", async () => {
    const client = new Anthropic({ apiKey: KEYS.anthropic, baseURL: up.url, maxRetries: 0 });
    const first = await client.messages.create({ model: "claude-sonnet-4-6", max_tokens: 50, messages: [{ role: "user", content: "go" }] });
    assert.equal(first.stop_reason, "tool_use");
    const toolUse = first.content.find((b) => b.type === "tool_use")!;
    const messages: Anthropic.MessageParam[] = [
      { role: "user", content: "go" },
      { role: "assistant", content: first.content },
      { role: "user", content: [{ type: "tool_result", tool_use_id: toolUse.id, content: "hello" }] },
    ];
    const plain = await client.messages.create({ model: "claude-sonnet-4-6", max_tokens: 50, messages });
    assert.deepEqual([plain.stop_reason, plain.content], ["end_turn", [{ type: "text", text: FINAL_TEXT }]]);
    const streamed = await client.messages.stream({ model: "claude-sonnet-4-6", max_tokens: 50, messages }).finalMessage();
    assert.equal(streamed.stop_reason, "end_turn");
    assert.equal(streamed.model, "claude-sonnet-4-6");
    assert.deepEqual(streamed.content.map((b) => b.type === "text" && b.text), [FINAL_TEXT]);
  });

  it("Responses: function_call_output and custom_tool_call_output get a message, streamed and not", async () => {
    const client = new OpenAI({ apiKey: KEYS.openai, baseURL: `${up.url}/v1`, maxRetries: 0 });
    const first = await client.responses.create({ model: "gpt-5.5", input: "go" });
    assert.deepEqual(first.output.map((o) => o.type), ["function_call"]);
    const input: OpenAI.Responses.ResponseInput = [
      { role: "user", content: "go" },
      { type: "function_call", call_id: "call_fake01", name: "exec_command", arguments: '{"cmd":"echo hello"}' },
      { type: "function_call_output", call_id: "call_fake01", output: "hello" },
    ];
    const plain = await client.responses.create({ model: "gpt-5.5", input });
    assert.equal(plain.output_text, FINAL_TEXT);
    const streamed = await client.responses.stream({ model: "gpt-5.5", input }).finalResponse();
    assert.equal(streamed.output_text, FINAL_TEXT);
    assert.equal(streamed.usage?.output_tokens, 5);
    const custom = await client.responses.create({
      model: "gpt-5.5",
      input: [{ type: "custom_tool_call", call_id: "c1", name: "exec", input: "x" }, { type: "custom_tool_call_output", call_id: "c1", output: "ok" }],
    });
    assert.equal(custom.output_text, FINAL_TEXT);
  });

  it("Gemini: a functionResponse turn gets text, a JSON-mode request JSON that fits its schema", async () => {
    const client = new GoogleGenAI({ apiKey: KEYS.gemini, httpOptions: { baseUrl: up.url } });
    const first = await client.models.generateContent({ model: "gemini-3.8-flash", contents: "go" });
    assert.equal(first.functionCalls?.[0]?.name, "run_shell_command");
    const contents = [
      { role: "user", parts: [{ text: "go" }] },
      { role: "model", parts: [{ functionCall: { name: "run_shell_command", args: { command: "echo hello" } } }] },
      { role: "user", parts: [{ functionResponse: { name: "run_shell_command", response: { output: "hello" } } }] },
    ];
    assert.equal((await client.models.generateContent({ model: "gemini-3.8-flash", contents })).text, FINAL_TEXT);
    let streamed = "";
    for await (const chunk of await client.models.generateContentStream({ model: "gemini-3.8-flash", contents })) streamed += chunk.text ?? "";
    assert.equal(streamed, FINAL_TEXT);
    const routed = await client.models.generateContent({
      model: "gemini-3.5-flash-lite",
      contents: "how hard is this?",
      config: {
        responseMimeType: "application/json",
        responseJsonSchema: { type: "OBJECT", properties: { complexity_reasoning: { type: "STRING" }, complexity_score: { type: "INTEGER" } } },
      },
    });
    assert.deepEqual(JSON.parse(routed.text ?? ""), { complexity_reasoning: "fake", complexity_score: 1 });
  });
});
