// One Bedrock stream (InvokeModelWithResponseStream: SigV4 signing + event-stream decoding of base64 Anthropic
// events) against the same Anthropic stream over SSE, both through a real gateway with logging on, on loopback.
// The two upstream answers carry the same 12 Anthropic events (the captured fixtures); the request body is as large
// as Claude Code's first call (≈ 86 KB), so signing hashes a realistic payload. Budget: p50 overhead ≤ 1 ms.
// Usage: `benchBedrock()` from bench/run.ts, or `npx tsx bench/bedrock.ts [--iterations=2000]`.
import http from "node:http";
import { mkdtempSync, readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Pool } from "undici";
import { parseConfigText } from "../gateway/config/load.js";
import { bedrockInvoke } from "../gateway/dialects/bedrock-invoke/codec.js";
import { anthropicMessages } from "../gateway/dialects/anthropic/codec.js";
import { createSigner } from "../gateway/providers/sigv4.js";
import { startGateway } from "../gateway/server.js";
import { eventStreamFraming } from "../gateway/stream/eventstream.js";
import { sseFraming } from "../gateway/stream/sse.js";

const FIXTURES = fileURLToPath(new URL("../test/fixtures/captures/", import.meta.url));
const SSE = readFileSync(join(FIXTURES, "fixtures/anthropic-messages-tool_use.sse"));
const EVENTSTREAM = readFileSync(join(FIXTURES, "fixtures/bedrock-invoke-with-response-stream-tool_use.eventstream.bin"));
const SONNET = "us.anthropic.claude-sonnet-4-6-v1:0";
const CLAUDE_CODE_BODY_BYTES = 85_846;

export interface Percentiles {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
}

export interface BedrockBenchResult {
  readonly iterations: number;
  readonly bodyBytes: number;
  /** Whole-stream latency through the gateway, milliseconds. */
  readonly anthropic: Percentiles;
  readonly bedrock: Percentiles;
  /** p50(bedrock) − p50(anthropic), and the median of per-pair differences, milliseconds. */
  readonly overheadP50: number;
  readonly overheadPairedMedian: number;
  /** Isolated costs per request, microseconds: SigV4 over the body; parsing + accumulating each stream. */
  readonly signUs: number;
  readonly decodeEventStreamUs: number;
  readonly decodeSseUs: number;
  readonly withinBudget: boolean;
}

/** Each event in its own write, as the services send them. */
interface Call {
  readonly path: string;
  readonly body: string;
  readonly headers: Record<string, string>;
}

function splitSse(bytes: Buffer): Buffer[] {
  return bytes.toString("utf8").split(/(?<=\n\n)/).map((e) => Buffer.from(e));
}

function splitFrames(bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += bytes.readUInt32BE(at)) out.push(bytes.subarray(at, at + bytes.readUInt32BE(at)));
  return out;
}

/** A plain node:http upstream that does no checking, so only the gateway's work differs between the paths. */
async function startUpstream(): Promise<{ url: string; close(): Promise<void> }> {
  const sse = splitSse(SSE);
  const frames = splitFrames(EVENTSTREAM);
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const bedrock = (req.url ?? "").startsWith("/model/");
      res.writeHead(200, { "content-type": bedrock ? "application/vnd.amazon.eventstream" : "text/event-stream" });
      for (const chunk of bedrock ? frames : sse) res.write(chunk);
      res.end();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function requestBody(bytes: number): Record<string, unknown> {
  const captured = JSON.parse(readFileSync(join(FIXTURES, "claude-code/bedrock.2.POST-invoke-with-response-stream.json"), "utf8")) as { body: Record<string, unknown> };
  const body = structuredClone(captured.body);
  const pad = bytes - JSON.stringify(body).length;
  (body.messages as unknown[]).unshift({ role: "user", content: "x".repeat(Math.max(0, pad - 40)) }, { role: "assistant", content: "ok" });
  return body;
}

function percentiles(values: readonly number[]): Percentiles {
  const s = [...values].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
  return { p50: at(50), p90: at(90), p99: at(99) };
}

function microUs(n: number, fn: () => void | Promise<void>): Promise<number> {
  return (async () => {
    for (let i = 0; i < Math.min(200, n); i++) await fn();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await fn();
    return ((performance.now() - t0) / n) * 1000;
  })();
}

function accumulate(framing: typeof sseFraming, codec: typeof anthropicMessages, chunks: readonly Buffer[]): void {
  const acc = codec.accumulator();
  const parser = framing.parser((e) => acc.push(e));
  for (const c of chunks) parser.feed(c);
  parser.end();
  acc.finish();
}

export async function benchBedrock(options: { iterations?: number; warmup?: number; log?: (line: string) => void } = {}): Promise<BedrockBenchResult> {
  const iterations = options.iterations ?? 2000;
  const warmup = options.warmup ?? 300;
  const log = options.log ?? ((line: string) => console.log(line));
  const upstream = await startUpstream();
  const dir = mkdtempSync(join(tmpdir(), "keyless-bench-bedrock-"));
  const config = {
    identity: { type: "local" },
    providers: {
      anthropic: { type: "anthropic", baseurl: upstream.url, apikey: "sk-bench-0123456789", models: ["claude-*"] },
      bedrock: {
        type: "bedrock",
        region: "us-east-1",
        baseurl: upstream.url,
        credentials: { access_key_id: "AKIABENCH", secret_access_key: "bench-secret-0123456789", session_token: "bench-session-token" },
        models: ["us.anthropic.*"],
      },
    },
    grants: [{ src: ["(loopback)"], app: { "keyless.dev/cap/gateway": [{ role: "user", models: "**" }] } }],
    database: { path: join(dir, "bench.db") },
  };
  const gateway = await startGateway({ loaded: parseConfigText(JSON.stringify(config), {}), listen: "127.0.0.1:0", log: () => undefined });
  const pool = new Pool(gateway.url, { connections: 1 });

  const body = requestBody(CLAUDE_CODE_BODY_BYTES);
  const bedrockBody = JSON.stringify(body);
  const anthropicBody = JSON.stringify({ model: "claude-sonnet-4-6", stream: true, ...body, anthropic_version: undefined, anthropic_beta: undefined });
  const calls: Record<"anthropic" | "bedrock", Call> = {
    anthropic: { path: "/v1/messages", body: anthropicBody, headers: { "content-type": "application/json", "anthropic-version": "2023-06-01", "x-api-key": "placeholder" } },
    bedrock: { path: `/bedrock/model/${SONNET}/invoke-with-response-stream`, body: bedrockBody, headers: { "content-type": "application/json", accept: "application/json" } },
  };
  const once = async (call: Call): Promise<number> => {
    const t0 = performance.now();
    const res = await pool.request({ method: "POST", path: call.path, headers: call.headers, body: call.body });
    for await (const _ of res.body) {
      // drain
    }
    if (res.statusCode !== 200) throw new Error(`${call.path}: status ${res.statusCode}`);
    return performance.now() - t0;
  };

  try {
    for (let i = 0; i < warmup; i++) {
      await once(calls.anthropic);
      await once(calls.bedrock);
    }
    const a: number[] = [];
    const b: number[] = [];
    const diffs: number[] = [];
    // Interleaved, alternating which goes first, so drift and GC land on both paths alike.
    for (let i = 0; i < iterations; i++) {
      let x: number;
      let y: number;
      if (i % 2 === 0) {
        x = await once(calls.anthropic);
        y = await once(calls.bedrock);
      } else {
        y = await once(calls.bedrock);
        x = await once(calls.anthropic);
      }
      a.push(x);
      b.push(y);
      diffs.push(y - x);
    }

    const signer = createSigner({ region: "us-east-1", service: "bedrock", credentials: { accessKeyId: "AKIABENCH", secretAccessKey: "bench-secret" } });
    const url = new URL(`${upstream.url}/model/${encodeURIComponent(SONNET)}/invoke-with-response-stream`);
    const bodyBytes = Buffer.from(bedrockBody);
    const signUs = await microUs(2000, () => signer.sign(url, "POST", new Headers({ "content-type": "application/json", accept: "application/json" }), bodyBytes));
    const frames = splitFrames(EVENTSTREAM);
    const sseChunks = splitSse(SSE);
    const decodeEventStreamUs = await microUs(5000, () => accumulate(eventStreamFraming, bedrockInvoke, frames));
    const decodeSseUs = await microUs(5000, () => accumulate(sseFraming, anthropicMessages, sseChunks));

    const anthropic = percentiles(a);
    const bedrock = percentiles(b);
    const result: BedrockBenchResult = {
      iterations,
      bodyBytes: bodyBytes.byteLength,
      anthropic,
      bedrock,
      overheadP50: bedrock.p50 - anthropic.p50,
      overheadPairedMedian: percentiles(diffs).p50,
      signUs,
      decodeEventStreamUs,
      decodeSseUs,
      withinBudget: bedrock.p50 - anthropic.p50 <= 1,
    };
    const ms = (v: number) => `${v.toFixed(3)} ms`;
    log(`\nBedrock stream vs Anthropic stream through the gateway, 1 connection, ${iterations} pairs, ${result.bodyBytes} B request`);
    log(`  anthropic (SSE)            p50 ${ms(anthropic.p50)}  p90 ${ms(anthropic.p90)}  p99 ${ms(anthropic.p99)}`);
    log(`  bedrock (SigV4 + evstream) p50 ${ms(bedrock.p50)}  p90 ${ms(bedrock.p90)}  p99 ${ms(bedrock.p99)}`);
    log(`  overhead p50 ${ms(result.overheadP50)} (paired median ${ms(result.overheadPairedMedian)}), budget 1 ms: ${result.withinBudget ? "met" : "MISSED"}`);
    log(`  isolated: SigV4 sign ${signUs.toFixed(1)} µs; decode+accumulate event-stream ${decodeEventStreamUs.toFixed(1)} µs vs SSE ${decodeSseUs.toFixed(1)} µs`);
    return result;
  } finally {
    await pool.close();
    await gateway.close(1000);
    await upstream.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = process.argv.find((a) => a.startsWith("--iterations="));
  benchBedrock(arg ? { iterations: Number(arg.split("=")[1]) } : {}).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
