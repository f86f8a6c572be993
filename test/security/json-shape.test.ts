// The JSON shape check: duplicate keys at any depth (also when spelled with escapes) and nesting depth, found in one
// pass at about JSON.parse's speed; valid bodies pass untouched.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MAX_JSON_DEPTH, jsonShapeMessage, jsonShapeProblem, nestsDeeperThan } from "../../gateway/proxy/json-shape.js";

const nested = (levels: number, open = "[", close = "]") => `${open.repeat(levels)}${close.repeat(levels)}`;

describe("JSON shape", () => {
  test("duplicate keys are found at any depth, escaped spellings included, and their path named", () => {
    assert.deepEqual(jsonShapeProblem('{"model":"claude-opus-4-1","max_tokens":1,"model":"claude-haiku-4-5"}'), {
      kind: "duplicate",
      path: "$.model",
      key: "model",
    });
    assert.deepEqual(jsonShapeProblem('{"model":"a","mod\\u0065l":"b"}'), { kind: "duplicate", path: "$.model", key: "model" });
    assert.deepEqual(jsonShapeProblem('{"messages":[{"role":"user","content":"x"},{"role":"user","content":"a","content":"b"}]}'), {
      kind: "duplicate",
      path: "$.messages[1].content",
      key: "content",
    });
    assert.deepEqual(jsonShapeProblem('{"a b":{"x":1,"x":2}}')?.path, '$["a b"].x');
  });

  test("strings that look like keys, escaped quotes and backslashes do not confuse it", () => {
    for (const ok of [
      '{"a":"\\"a\\":1","b":"{\\"a\\":2}"}',
      '{"a\\\\":1,"a":2}',
      '{"x":["a","a"],"y":{"a":1},"z":{"a":1}}',
      '{"k":"\\\\","j":"\\\\\\""}',
      "[]",
      '""',
      "1",
      `{"s":"${"\\\\".repeat(1000)}","t":1}`,
    ]) {
      JSON.parse(ok);
      assert.equal(jsonShapeProblem(ok), null, ok);
    }
  });

  test(`nesting: ${MAX_JSON_DEPTH} levels pass, one more is refused`, () => {
    assert.equal(jsonShapeProblem(nested(MAX_JSON_DEPTH)), null);
    assert.equal(jsonShapeProblem(nested(MAX_JSON_DEPTH + 1))?.kind, "depth");
    assert.equal(jsonShapeProblem(`{"a":${nested(100_000, '{"a":', "}")}1}`)?.kind, "depth");
    assert.match(jsonShapeMessage(jsonShapeProblem(nested(100_000))!), /deeper than 128 levels \(at \$\[0\]\[0\].*….*\[0\]\)$/);
    assert.equal(nestsDeeperThan(JSON.parse(nested(MAX_JSON_DEPTH))), false);
    assert.equal(nestsDeeperThan(JSON.parse(nested(MAX_JSON_DEPTH + 1))), true);
    assert.equal(nestsDeeperThan(JSON.parse(nested(100_000))), true);
  });

  test("a 1 MB body is checked in about the time JSON.parse takes", () => {
    const text = JSON.stringify({
      model: "claude-sonnet-4-6",
      messages: Array.from({ length: 2000 }, (_, i) => ({ role: i % 2 ? "assistant" : "user", content: [{ type: "text", text: `lorem "ipsum" \\ ${i} `.repeat(20) }] })),
      tools: Array.from({ length: 2000 }, (_, i) => ({ name: `t${i}`, input_schema: { type: "object", properties: { a: { type: "string" } } } })),
    });
    assert.ok(text.length > 1e6);
    const best = (fn: () => unknown) => {
      let min = Infinity;
      for (let i = 0; i < 15; i++) {
        const t = performance.now();
        fn();
        min = Math.min(min, performance.now() - t);
      }
      return min;
    };
    const parse = best(() => JSON.parse(text));
    const scan = best(() => assert.equal(jsonShapeProblem(text), null));
    console.log(`1 MB body: JSON.parse ${parse.toFixed(2)} ms, shape check ${scan.toFixed(2)} ms`);
    assert.ok(scan < parse * 3 + 2, `shape check ${scan} ms vs JSON.parse ${parse} ms`);
  });
});
