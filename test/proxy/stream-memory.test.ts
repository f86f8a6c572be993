// A long stream through the gateway leaves no garbage behind in the old generation. Per-event objects kept alive past
// a scavenge (a WeakMap keyed by events did that: V8's scavenger keeps ephemeron values) are promoted by the megabyte
// and only collected by the next full GC: a 1 GiB stream once raised RSS by 60–130 MiB. Measured here: with that bug
// this 48 MiB stream grew the old generation by 48 MiB, without it by 3 MiB; the limit sits between, far from both.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { getHeapSpaceStatistics } from "node:v8";
import { type Harness, startHarness } from "../helpers/gateway.js";

const PEER = "127.0.0.2";
const STREAM_BYTES = 48 * 2 ** 20;
const MAX_OLD_GROWTH = 20 * 2 ** 20;

const oldSpaceUsed = () => getHeapSpaceStatistics().find((s) => s.space_name === "old_space")!.space_used_size;

/** An Anthropic stream of text deltas, `bytes` long, produced as fast as it is read (pull-based). */
function longStream(bytes: number): Response {
  const encoder = new TextEncoder();
  const start = [
    `event: message_start\ndata: {"type":"message_start","message":{"id":"msg_long","type":"message","role":"assistant","model":"claude-sonnet-4-6","content":[],"stop_reason":null,"usage":{"input_tokens":12,"output_tokens":1}}}\n\n`,
    `event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n`,
  ].join("");
  const end = [
    `event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n`,
    `event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":9}}\n\n`,
    `event: message_stop\ndata: {"type":"message_stop"}\n\n`,
  ].join("");
  let written = 0;
  let k = 0;
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode(start));
    },
    pull(controller) {
      let text = "";
      while (text.length < 64 * 1024 && written + text.length < bytes) {
        text += `event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"token ${k++} of a long answer "}}\n\n`;
      }
      written += text.length;
      controller.enqueue(encoder.encode(text));
      if (written >= bytes) {
        controller.enqueue(encoder.encode(end));
        controller.close();
      }
    },
  });
  return new Response(stream, { headers: { "content-type": "text/event-stream" } });
}

describe("memory over a long stream", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ peers: { [PEER]: { tags: ["tag:ci"], login: "ci" } } });
  });
  after(() => h.close());

  it(`a ${STREAM_BYTES / 2 ** 20} MiB stream grows the old generation by less than ${MAX_OLD_GROWTH / 2 ** 20} MiB`, { timeout: 60_000 }, async () => {
    h.upstream.once(/^\/v1\/messages$/, () => longStream(STREAM_BYTES));
    const res = await h.fetchFrom(PEER)(`${h.gateway.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": "x", "anthropic-version": "2023-06-01" },
      body: JSON.stringify({ model: "claude-sonnet-4-6", max_tokens: 10, stream: true, messages: [{ role: "user", content: "x" }] }),
    });
    assert.equal(res.status, 200);
    const baseline = oldSpaceUsed();
    let peak = baseline;
    let bytes = 0;
    let tail = "";
    const reader = res.body!.getReader();
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      bytes += r.value.byteLength;
      peak = Math.max(peak, oldSpaceUsed());
      tail = Buffer.from(r.value.subarray(-64)).toString("latin1");
    }
    assert.ok(bytes >= STREAM_BYTES, `read ${bytes} bytes`);
    assert.match(tail, /message_stop/);
    const growth = peak - baseline;
    assert.ok(growth < MAX_OLD_GROWTH, `old generation grew by ${(growth / 2 ** 20).toFixed(1)} MiB over the stream`);
  });
});
