// The secret scrubber on its own: every encoding, a secret cut at every byte boundary, JSON and SSE kept valid.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { scrubSummary, scrubberFor, scrubValue } from "../../gateway/proxy/scrub.js";
import { echoForms as encodings, findKey } from "../security/encodings.js";

const KEY = "sk-ant-CANARY-anthropic-0123456789abcdef";
const scrubber = scrubberFor([KEY]);

/** An AWS secret access key has "/" and "+": `\/` and base64's alphabets matter for it. */
const AWS_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

describe("scrubber", () => {
  for (const [name, encoded] of [...Object.entries(encodings(KEY)), ...Object.entries(encodings(AWS_SECRET)).map(([n, e]) => [`${n} (AWS)`, e] as const)]) {
    it(`finds the key written ${name}`, () => {
      const text = `{"message":"bad key ${encoded} given"}`;
      const out = scrubberFor([KEY, AWS_SECRET]).text(text);
      assert.notEqual(out, text);
      assert.ok(!out.includes(encoded), out);
      assert.match(out, /\[redacted\]/);
      assert.equal(findKey(out, KEY), null);
      assert.equal(findKey(out, AWS_SECRET), null);
    });
  }

  it("keeps JSON valid and its decoded text key-free", () => {
    for (const encoded of Object.values(encodings(KEY)).filter((e) => !e.includes("%") && !e.startsWith('"'))) {
      const out = scrubber.text(`{"a":"\\n${encoded}\\n","b":"\\\\${encoded}"}`);
      const parsed = JSON.parse(out) as { a: string; b: string };
      assert.ok(!parsed.a.includes(KEY) && !parsed.b.includes(KEY), out);
    }
    // A key right after an escape letter it could be mistaken for: the escape goes with it, the JSON stays valid.
    const nkey = scrubberFor(["nKEY-0123456789"]);
    assert.deepEqual(JSON.parse(nkey.text('{"a":"x\\nKEY-0123456789"}')), { a: "x[redacted]" });
  });

  it("leaves text without a key untouched (same object, no copy)", () => {
    const buf = Buffer.from(`data: {"type":"content_block_delta","delta":{"text":"sk-ant is a prefix \\u002d AIza \\\\ %2D"}}\n\n`);
    assert.equal(scrubber.bytes(buf), buf);
  });

  it("a stream scrubber finds the key cut at every byte, in every encoding, and holds back only a possible key", () => {
    for (const [name, encoded] of Object.entries(encodings(KEY))) {
      const whole = Buffer.from(`data: {"text":"${encoded}"}\n\n`);
      for (let cut = 1; cut < whole.length; cut++) {
        const s = scrubber.stream();
        const out = Buffer.concat([s.push(whole.subarray(0, cut)), s.push(whole.subarray(cut)), s.end()]).toString();
        assert.ok(!out.includes(encoded), `${name} cut at ${cut}: ${out}`);
        // Cut or not, the same bytes come out.
        assert.equal(out, Buffer.from(scrubber.bytes(whole)).toString(), `${name} cut at ${cut}`);
        assert.match(out, /^data: \{"text":"[^"]*\[redacted\][^"]*"\}\n\n$/);
      }
    }
    // Plain text is passed on whole at once; at most maxHold bytes wait for the next chunk.
    const s = scrubber.stream();
    const plain = Buffer.from('data: {"text":"hello sk-an');
    const out = s.push(plain);
    assert.equal(Buffer.from(out).toString(), 'data: {"text":"hello ');
    assert.ok(plain.length - out.length <= scrubber.maxHold);
    assert.equal(Buffer.from(s.push(Buffer.from("swer\n\n"))).toString(), "sk-answer\n\n");
  });

  it("scrubs keys and values of parsed JSON", () => {
    assert.deepEqual(scrubValue({ [KEY]: [1, `x${KEY}`, { y: KEY.replaceAll("-", "\\u002d") }] }, scrubber), { "[redacted]": [1, "x[redacted]", { y: "[redacted]" }] });
  });

  it("scrubs parsed values of any depth without overflowing the stack", () => {
    const deep = (leaf: string) => JSON.parse(`${"[".repeat(200_000)}"${leaf}"${"]".repeat(200_000)}`) as unknown;
    const clean = deep("nothing here");
    assert.equal(scrubValue(clean, scrubber), clean);
    assert.equal(scrubValue(deep(`x ${KEY}`), scrubber), "[redacted]");
  });

  it("scrubs what is stored of a response: tool calls, errors, ids", () => {
    const summary = scrubSummary(
      { usage: null, responseId: `r-${KEY}`, stopReason: KEY, error: `bad ${KEY}`, toolCalls: [{ id: KEY, name: "Bash", shape: "tool_use", index: 0, input: { command: `echo ${KEY}` } }] },
      scrubber,
    );
    assert.deepEqual(summary, {
      usage: null,
      responseId: "r-[redacted]",
      stopReason: "[redacted]",
      error: "bad [redacted]",
      toolCalls: [{ id: "[redacted]", name: "Bash", shape: "tool_use", index: 0, input: { command: "echo [redacted]" } }],
    });
  });

  it("ignores secrets too short to be keys", () => {
    const short = scrubberFor(["abc"]);
    assert.equal(short.empty, true);
    assert.equal(short.text("abc abc"), "abc abc");
  });
});
