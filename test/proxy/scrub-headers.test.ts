// Response headers are scanned as one block first; a header holding a secret in any encoding is still scrubbed (its
// value) or dropped (its name), and a clean set of headers comes back as it was.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { scrubbedHeaders } from "../../gateway/proxy/headers.js";
import { scrubberFor } from "../../gateway/proxy/scrub.js";
import { echoForms, findKey } from "../security/encodings.js";

const KEY = "sk-ant-CANARY-anthropic-0123456789abcdef";
const scrubber = scrubberFor([KEY]);
const clean = () => new Headers({ "content-type": "text/event-stream", "request-id": "req_011CXYZ", "x-ratelimit": "3999" });

describe("scrubbed response headers", () => {
  it("returns clean headers as they are", () => {
    const headers = clean();
    assert.equal(scrubbedHeaders(headers, scrubber), headers);
  });

  for (const [form, encoded] of Object.entries(echoForms(KEY)).filter(([, e]) => !/[\r\n]/.test(e))) {
    it(`scrubs a value holding the key written ${form}, and keeps the other headers`, () => {
      const headers = clean();
      headers.set("x-echo", `bad key ${encoded}`);
      const out = scrubbedHeaders(headers, scrubber);
      assert.notEqual(out, headers);
      assert.equal(findKey(out.get("x-echo") ?? "", KEY), null);
      assert.match(out.get("x-echo") ?? "", /\[redacted\]/);
      assert.equal(out.get("request-id"), "req_011CXYZ");
    });
  }

  it("drops a header whose name holds the key", () => {
    // Header names are lower case: a lower-case secret (a token) can be one.
    const token = "tok-canary-0123456789abcdef";
    const headers = clean();
    headers.set(`x-${token}`, "1");
    const out = scrubbedHeaders(headers, scrubberFor([token]));
    assert.deepEqual([...out.keys()].sort(), ["content-type", "request-id", "x-ratelimit"]);
  });
});
