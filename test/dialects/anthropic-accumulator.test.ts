// The Anthropic stream accumulator skips parsing events that cannot change the summary (text deltas outside a tool
// block). Every event that can change it is still read, however its type is written.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { anthropicMessages } from "../../gateway/dialects/anthropic/codec.js";
import type { WireEvent } from "../../gateway/stream/framing.js";

const start: WireEvent = { name: "message_start", data: JSON.stringify({ type: "message_start", message: { id: "msg_1", model: "claude-sonnet-4-6", usage: { input_tokens: 10, output_tokens: 1 } } }) };
const text = (t: string): WireEvent => ({ name: "content_block_delta", data: JSON.stringify({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: t } }) });

function summarize(events: readonly WireEvent[]) {
  const acc = anthropicMessages.accumulator();
  for (const e of events) acc.push(e);
  return acc.finish();
}

describe("Anthropic stream accumulator", () => {
  it("reads usage, stop reason and a tool call among text deltas", () => {
    const s = summarize([
      start,
      { data: JSON.stringify({ type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }) },
      text("an error? no, just text "),
      { data: JSON.stringify({ type: "content_block_stop", index: 0 }) },
      { data: JSON.stringify({ type: "content_block_start", index: 1, content_block: { type: "tool_use", id: "toolu_1", name: "Bash", input: {} } }) },
      { data: JSON.stringify({ type: "content_block_delta", index: 1, delta: { type: "input_json_delta", partial_json: '{"command":"ls"' } }) },
      { data: JSON.stringify({ type: "content_block_delta", index: 1, delta: { type: "input_json_delta", partial_json: "}" } }) },
      { data: JSON.stringify({ type: "content_block_stop", index: 1 }) },
      { data: JSON.stringify({ type: "message_delta", delta: { stop_reason: "tool_use" }, usage: { output_tokens: 42 } }) },
    ]);
    assert.equal(s.usage?.input, 10);
    assert.equal(s.usage?.output, 42);
    assert.equal(s.stopReason, "tool_use");
    assert.equal(s.error, undefined);
    assert.deepEqual(s.toolCalls.map((c) => [c.name, c.input]), [["Bash", { command: "ls" }]]);
  });

  it("reads an event whose type is written with an escape, or given twice", () => {
    const escaped = summarize([start, text("a"), { name: "content_block_delta", data: '{"type":"message\\u005fdelta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":7}}' }]);
    assert.equal(escaped.usage?.output, 7);
    assert.equal(escaped.stopReason, "end_turn");
    // JSON.parse keeps the last of duplicate keys: this is a message_delta, whatever its SSE name says.
    const twice = summarize([start, { name: "content_block_delta", data: '{"type":"content_block_delta","usage":{"output_tokens":9},"type":"message_delta","delta":{}}' }]);
    assert.equal(twice.usage?.output, 9);
    const error = summarize([start, { name: "content_block_delta", data: '{"type":"\\u0065rror","error":{"type":"overloaded_error","message":"busy"}}' }]);
    assert.match(error.error ?? "", /overloaded_error: busy/);
  });
});
