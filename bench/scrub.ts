// npx tsx bench/scrub.ts: per-chunk cost of scrubbing provider secrets from response bodies, on recorded provider
// streams without a key (the common case) and with one. A benchmark, not a test: numbers depend on the machine.
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { scrubberFor } from "../gateway/proxy/scrub.js";
import { streamScrubber } from "../gateway/proxy/scrub-stream.js";
import { eventStreamFraming } from "../gateway/stream/eventstream.js";
import type { Framing } from "../gateway/stream/framing.js";
import { sseFraming } from "../gateway/stream/sse.js";

const fixture = (name: string) => readFileSync(new URL(`../test/fixtures/captures/fixtures/${name}`, import.meta.url));
// Two secrets, as a provider with a key and a rotating token has: the cost grows with the number of secrets.
const scrubber = scrubberFor(["sk-ant-api03-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ-xyz", "ya29.a0ARrdaM-0123456789abcdefghijklmnop"]);

function sseEvents(name: string): Buffer[] {
  return fixture(name).toString().split(/(?<=\n\n)/).map((e) => Buffer.from(e));
}

function frames(name: string): Buffer[] {
  const all = fixture(name);
  const out: Buffer[] = [];
  for (let at = 0; at < all.length; ) {
    const length = all.readUInt32BE(at);
    out.push(all.subarray(at, at + length));
    at += length;
  }
  return out;
}

function perChunk(label: string, chunks: Buffer[], framing: Framing, rounds = 3000): void {
  const run = () => {
    const scrub = streamScrubber(scrubber, framing)!;
    let n = 0;
    for (const chunk of chunks) n += scrub.push(chunk).byteLength;
    return n + scrub.end().byteLength;
  };
  for (let i = 0; i < 200; i++) run();
  const bytes = chunks.reduce((n, c) => n + c.length, 0);
  const t0 = performance.now();
  for (let i = 0; i < rounds; i++) run();
  const us = ((performance.now() - t0) * 1000) / (rounds * chunks.length);
  console.log(`${label.padEnd(44)} ${chunks.length} chunks, ${(bytes / chunks.length).toFixed(0).padStart(5)} B avg: ${us.toFixed(2)} µs/chunk`);
}

const big = Buffer.from(fixture("anthropic-messages-tool_use.sse").toString().repeat(40));
const chunks16k = Array.from({ length: Math.ceil(big.length / 16384) }, (_, i) => big.subarray(i * 16384, (i + 1) * 16384));
// A yardstick for this machine: one native substring search over a 16 KiB chunk.
{
  const needle = Buffer.from("sk-ant-api03-0123456789abcdefghijklmnopqrstuvwxyzA");
  const t0 = performance.now();
  for (let i = 0; i < 20_000; i++) chunks16k[i % 4]!.indexOf(needle);
  console.log(`${"yardstick: Buffer.indexOf over 16 KiB".padEnd(44)} ${(((performance.now() - t0) * 1000) / 20_000).toFixed(2)} µs`);
}
perChunk("anthropic SSE, one event per chunk", sseEvents("anthropic-messages-tool_use.sse"), sseFraming);
perChunk("openai chat SSE, one event per chunk", sseEvents("openai-chat-tool_calls.sse"), sseFraming);
perChunk("responses SSE, one event per chunk", sseEvents("openai-responses-function_call.sse"), sseFraming);
perChunk("SSE in 16 KiB chunks", chunks16k, sseFraming, 300);
perChunk("bedrock invoke event-stream, a frame a chunk", frames("bedrock-invoke-with-response-stream-tool_use.eventstream.bin"), eventStreamFraming);
perChunk("bedrock converse event-stream, a frame a chunk", frames("bedrock-converse-stream-toolUse.eventstream.bin"), eventStreamFraming);
const leaky = sseEvents("anthropic-messages-tool_use.sse").map((e) => Buffer.from(e.toString().replace("Let me", "sk-ant-api03-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ-xyz")));
perChunk("anthropic SSE, one event holds the key", leaky, sseFraming);
