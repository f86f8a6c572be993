// OpenAI Chat streams through the generic hold-and-release rewriter, one run per choice: choices interleave, each
// choice's tool calls are held until its own finish_reason, and one choice's block leaves the other's calls alone.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { chatBlocker } from "../../gateway/dialects/openai-chat/blocker.js";
import type { ToolCall } from "../../gateway/formats/types.js";
import type { WireEvent } from "../../gateway/stream/framing.js";

const envelope = { id: "chatcmpl-1", object: "chat.completion.chunk", created: 1, model: "gpt-5-mini" };
const chunk = (...choices: Record<string, unknown>[]): WireEvent => ({ data: JSON.stringify({ ...envelope, choices }) });
const call = (index: number, t: number, name: string, args: string) => ({ index, delta: { tool_calls: [{ index: t, id: `call_${index}_${t}`, type: "function", function: { name, arguments: args } }] }, finish_reason: null });
const more = (index: number, t: number, args: string) => ({ index, delta: { tool_calls: [{ index: t, function: { arguments: args } }] }, finish_reason: null });
const finish = (index: number) => ({ index, delta: {}, finish_reason: "tool_calls" });
const verdict = (c: ToolCall) => (c.name === "rm" ? "blocked: rm" : null);

function run(events: readonly WireEvent[]): { choices: { index: number; delta: Record<string, unknown>; finish_reason: string | null }[] }[] {
  const out: WireEvent[] = [];
  const rewriter = chatBlocker.streamRewriter(verdict);
  for (const e of events) rewriter.rewrite(e, (x) => out.push(x));
  rewriter.flush?.((x) => out.push(x));
  return out.map((e) => JSON.parse(e.data));
}

describe("Chat streams: a run per choice", () => {
  it("interleaved choices: choice 0's blocked call becomes content and stop; choice 1's call passes unchanged", () => {
    const out = run([chunk(call(0, 0, "rm", '{"a"'), call(1, 0, "ls", '{"b"')), chunk(more(1, 0, ":1}")), chunk(finish(1)), chunk(more(0, 0, ":1}")), chunk(finish(0))]);
    const of = (i: number) => out.flatMap((c) => c.choices).filter((c) => c.index === i);
    // Choice 1 finished first and was released first, as it came.
    assert.equal(out[0]!.choices[0]!.index, 1);
    assert.deepEqual(of(1).map((c) => c.finish_reason), [null, null, "tool_calls"]);
    assert.equal(of(1).flatMap((c) => (c.delta.tool_calls as unknown[]) ?? []).length, 2);
    assert.deepEqual(of(0).map((c) => c.delta), [{ content: "blocked: rm" }, {}]);
    assert.equal(of(0).at(-1)!.finish_reason, "stop");
  });

  it("a stream that ends without finish_reason releases the held fragments as they came", () => {
    const out = run([chunk(call(0, 0, "rm", '{"a":1}'))]);
    assert.deepEqual(out, [{ ...envelope, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: "call_0_0", type: "function", function: { name: "rm", arguments: '{"a":1}' } }] }, finish_reason: null }] }]);
  });
});
