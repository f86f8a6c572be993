import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { encodeMessage, eventStreamFraming } from "../../gateway/stream/eventstream.js";
import { sseFraming } from "../../gateway/stream/sse.js";
import { wholeBodyFraming } from "../../gateway/stream/whole-body.js";

const bytes = (s: string) => new TextEncoder().encode(s);

describe("whole-event prefixes", () => {
  it("SSE: up to the last blank line, for LF, CRLF and CR line ends", () => {
    assert.equal(sseFraming.completePrefix(bytes("data: a\n\ndata: b")), 9);
    assert.equal(sseFraming.completePrefix(bytes("data: a\r\n\r\ndata: b\r\n")), 11);
    assert.equal(sseFraming.completePrefix(bytes("data: a\r\rdata")), 9);
    assert.equal(sseFraming.completePrefix(bytes("data: a\n")), 0);
    assert.equal(sseFraming.completePrefix(bytes("event: x\ndata: 1\n\nevent: y\ndata: 2\n\n")), 36);
  });

  it("AWS event-stream: whole messages by their length prefixes", () => {
    const a = encodeMessage({ name: "chunk", data: '{"bytes":"e30="}' });
    const b = encodeMessage({ name: "metadata", data: "{}" });
    const both = Buffer.concat([a, b]);
    assert.equal(eventStreamFraming.completePrefix(both), both.byteLength);
    assert.equal(eventStreamFraming.completePrefix(both.subarray(0, a.byteLength + 7)), a.byteLength);
    assert.equal(eventStreamFraming.completePrefix(both.subarray(0, 3)), 0);
  });

  it("unframed bodies pass as they arrive", () => {
    assert.equal(wholeBodyFraming(10).completePrefix(bytes('[{"a":')), 6);
  });
});
