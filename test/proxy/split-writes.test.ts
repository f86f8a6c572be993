// An upstream stream cut anywhere by its writes (TCP does that) reaches the SDK whole: a first write that completes no
// event once stalled the response forever, because a pull that handed the client nothing was never repeated.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { capture, withModel } from "../fakes/fixtures.js";
import { type Harness, startHarness } from "../helpers/gateway.js";

const PEER = "127.0.0.2";

/** The body written `size` bytes at a time, with a pause between writes so each is its own chunk. */
function everyBytes(text: string, size: number): Response {
  const bytes = Buffer.from(text);
  const stream = new ReadableStream<Uint8Array>({
    async start(controller) {
      for (let at = 0; at < bytes.length; at += size) {
        controller.enqueue(bytes.subarray(at, at + size));
        await new Promise((r) => setTimeout(r, 1));
      }
      controller.close();
    },
  });
  return new Response(stream, { headers: { "content-type": "text/event-stream" } });
}

describe("split upstream writes", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ peers: { [PEER]: { login: "alice@example.com" } } });
  });
  after(() => h.close());

  for (const size of [7, 64]) {
    it(`an Anthropic stream written ${size} bytes at a time`, async () => {
      const sse = withModel(capture("fixtures/anthropic-messages-tool_use.sse"), "claude-x", "claude-sonnet-4-6");
      h.upstream.once(/^\/v1\/messages$/, () => everyBytes(sse, size));
      const client = new Anthropic({ apiKey: "x", baseURL: h.gateway.url, fetch: h.fetchFrom(PEER), maxRetries: 0, timeout: 20_000 });
      const message = await client.messages.stream({ model: "claude-sonnet-4-6", max_tokens: 10, messages: [{ role: "user", content: "x" }] }).finalMessage();
      assert.ok(message.content.some((b) => b.type === "tool_use"));
    });
  }
});
