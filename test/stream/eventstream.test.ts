import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { WireEvent } from "../../gateway/stream/framing.js";
import { DEFAULT_FRAMINGS, framingFor } from "../../gateway/stream/index.js";
import { decodeMessage, eventStreamFraming, exceptionEvent } from "../../gateway/stream/eventstream.js";
import { captureBytes } from "../fakes/fixtures.js";

const CONVERSE = captureBytes("fixtures/bedrock-converse-stream-toolUse.eventstream.bin");
const INVOKE = captureBytes("fixtures/bedrock-invoke-with-response-stream-tool_use.eventstream.bin");

function parse(chunks: readonly Uint8Array[]): { events: WireEvent[]; leftover: boolean } {
  const events: WireEvent[] = [];
  const parser = eventStreamFraming.parser((e) => events.push(e));
  for (const c of chunks) parser.feed(c);
  return { events, leftover: parser.end().leftover };
}

function split(bytes: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < bytes.byteLength; at += size) out.push(bytes.subarray(at, at + size));
  return out;
}

describe("AWS event-stream framing", () => {
  it("is what DEFAULT_FRAMINGS picks for application/vnd.amazon.eventstream", () => {
    assert.equal(framingFor("application/vnd.amazon.eventstream", DEFAULT_FRAMINGS, 1000), eventStreamFraming);
  });

  it("names ConverseStream events by :event-type and keeps the payload text", () => {
    const { events, leftover } = parse([CONVERSE]);
    assert.equal(leftover, false);
    assert.deepEqual(
      events.map((e) => e.name),
      ["messageStart", "contentBlockStart", "contentBlockDelta", "contentBlockDelta", "contentBlockStop", "messageStop", "metadata"],
    );
    assert.equal((JSON.parse(events[6]!.data) as { usage: { inputTokens: number } }).usage.inputTokens, 12);
  });

  it("yields the same events whatever the chunk boundaries", () => {
    const whole = parse([INVOKE]).events;
    assert.equal(whole.length, 12);
    for (const size of [1, 2, 3, 7, 16, 97, 482, 483, 4096]) {
      const { events, leftover } = parse(split(INVOKE, size));
      assert.deepEqual(events, whole, `chunk size ${size}`);
      assert.equal(leftover, false, `chunk size ${size}`);
    }
  });

  it("reports a body cut mid-frame as leftover", () => {
    const { events, leftover } = parse([CONVERSE.subarray(0, CONVERSE.byteLength - 10)]);
    assert.equal(events.length, 6);
    assert.equal(leftover, true);
  });

  it("stops at a corrupt frame (bad CRC or impossible length) and reports it", () => {
    const corrupt = Buffer.from(CONVERSE);
    corrupt[200] = corrupt[200]! ^ 0xff; // inside the second frame's payload: its message CRC fails
    const bad = parse([corrupt]);
    assert.deepEqual(bad.events.map((e) => e.name), ["messageStart"]);
    assert.equal(bad.leftover, true);
    const huge = Buffer.alloc(16);
    huge.writeUInt32BE(0xfffffff0, 0);
    assert.equal(parse([huge]).leftover, true);
  });

  it("serializes events and exceptions that decode back to themselves", () => {
    for (const event of [{ name: "metadata", data: '{"usage":{"inputTokens":1}}' }, exceptionEvent("internalServerException", "upstream broke"), { name: "error:InternalFailure", data: "boom" }]) {
      assert.deepEqual(decodeMessage(eventStreamFraming.serialize(event)), event);
    }
  });
});
