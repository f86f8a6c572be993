// npm run bench: the same load direct to a fake upstream and through the gateway (logging on), on loopback.
// Prints added latency (p50/p99), streaming time-to-first-byte overhead, throughput ratio at 64 connections,
// and the gateway's RSS over a long run. A benchmark, not a test: numbers depend on the machine.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Pool } from "undici";

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, "").split("=") as [string, string]));
const LONG_RUN = Number(args.get("requests") ?? 100_000);
const CONCURRENCY = Number(args.get("concurrency") ?? 64);

function spawnReady(cmd: string[], pattern: RegExp, env: NodeJS.ProcessEnv = {}): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  const child = spawn(process.execPath, cmd, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  let out = "";
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = pattern.exec(out);
      if (m) resolve({ child, match: m });
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => reject(new Error(`${cmd.join(" ")} exited ${code}: ${out}`)));
  });
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const fmt = (ms: number) => `${ms.toFixed(3)} ms`;

const BODY = JSON.stringify({ model: "claude-sonnet-4-6", max_tokens: 64, messages: [{ role: "user", content: "hello" }] });
const STREAM_BODY = BODY.replace("{", '{"stream":true,');
const HEADERS = { "content-type": "application/json", "x-api-key": "placeholder", "anthropic-version": "2023-06-01" };

async function one(pool: Pool, body: string): Promise<{ total: number; ttfb: number }> {
  const t0 = performance.now();
  const res = await pool.request({ path: "/v1/messages", method: "POST", headers: HEADERS, body });
  let ttfb = -1;
  for await (const _ of res.body) if (ttfb < 0) ttfb = performance.now() - t0;
  if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
  return { total: performance.now() - t0, ttfb };
}

async function sequential(pool: Pool, body: string, n: number): Promise<{ total: number[]; ttfb: number[] }> {
  const total: number[] = [];
  const ttfb: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = await one(pool, body);
    total.push(r.total);
    ttfb.push(r.ttfb);
  }
  return { total: total.sort((a, b) => a - b), ttfb: ttfb.sort((a, b) => a - b) };
}

async function throughput(pool: Pool, body: string, n: number, concurrency: number, onProgress?: (done: number) => void): Promise<number> {
  let started = 0;
  let done = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (started < n) {
        started++;
        await one(pool, body);
        done++;
        if (onProgress && done % 5000 === 0) onProgress(done);
      }
    }),
  );
  return n / ((performance.now() - t0) / 1000);
}

async function main(): Promise<void> {
  // The gateway runs as users run it: the compiled build, not through tsx.
  execFileSync("npx", ["tsc", "-p", "tsconfig.build.json"], { stdio: "inherit" });
  const up = await spawnReady(["--import", "tsx", "bench/upstream-server.ts"], /listening (\d+)/);
  const upstreamUrl = `http://127.0.0.1:${up.match[1]}`;
  const slow = await spawnReady(["--import", "tsx", "bench/upstream-server.ts"], /listening (\d+)/, { DELAY_MS: "20" });
  const slowUrl = `http://127.0.0.1:${slow.match[1]}`;
  const dir = mkdtempSync(join(tmpdir(), "keyless-bench-"));
  const configPath = join(dir, "bench.json");
  writeFileSync(configPath, JSON.stringify({
    identity: { type: "local" },
    providers: {
      anthropic: { type: "anthropic", baseurl: upstreamUrl, apikey: "sk-bench", models: ["claude-sonnet-*"] },
      slow: { type: "anthropic", baseurl: slowUrl, apikey: "sk-bench", models: ["claude-haiku-*"] },
    },
    // A model with a fallback target, whose first target answers: what routing costs when nothing fails.
    routes: { "claude-opus-4-6": [{ provider: "anthropic" }, { provider: "slow" }] },
    grants: [{ src: ["(loopback)"], app: { "keyless.dev/cap/gateway": [{ role: "user", models: "**" }] } }],
    database: { path: join(dir, "bench.db") },
  }));
  const gw = await spawnReady(["build/gateway/cli.js", "serve", "--config", configPath, "--listen", "127.0.0.1:0"], /serving on (http:\/\/\S+)/);
  const gatewayUrl = gw.match[1]!;
  const pools = {
    direct: new Pool(upstreamUrl, { connections: CONCURRENCY }),
    slow: new Pool(slowUrl, { connections: CONCURRENCY }),
    gateway: new Pool(gatewayUrl, { connections: CONCURRENCY }),
  };

  try {
    // Warm both paths (JIT, connection pools, SQLite statements).
    await throughput(pools.direct, BODY, 2000, 16);
    await throughput(pools.gateway, BODY, 2000, 16);

    const seqN = 2000;
    const d1 = await sequential(pools.direct, BODY, seqN);
    const g1 = await sequential(pools.gateway, BODY, seqN);
    console.log(`\nnon-streaming, 1 connection, ${seqN} requests`);
    console.log(`  direct   p50 ${fmt(pct(d1.total, 50))}  p99 ${fmt(pct(d1.total, 99))}`);
    console.log(`  gateway  p50 ${fmt(pct(g1.total, 50))}  p99 ${fmt(pct(g1.total, 99))}`);
    console.log(`  added    p50 ${fmt(pct(g1.total, 50) - pct(d1.total, 50))}  p99 ${fmt(pct(g1.total, 99) - pct(d1.total, 99))}`);

    const ROUTED_BODY = BODY.replace("claude-sonnet-4-6", "claude-opus-4-6");
    const r1 = await sequential(pools.gateway, ROUTED_BODY, seqN);
    const g1again = await sequential(pools.gateway, BODY, seqN);
    console.log(`  routed (2 targets, the first answers) p50 ${fmt(pct(r1.total, 50))}  p99 ${fmt(pct(r1.total, 99))}`);
    console.log(`  routing added vs one provider (measured again) p50 ${fmt(pct(r1.total, 50) - pct(g1again.total, 50))}  p99 ${fmt(pct(r1.total, 99) - pct(g1again.total, 99))}`);

    const streamN = 500;
    const ds = await sequential(pools.direct, STREAM_BODY, streamN);
    const gs = await sequential(pools.gateway, STREAM_BODY, streamN);
    console.log(`\nstreaming (13 SSE events, 2 ms apart), 1 connection, ${streamN} requests`);
    console.log(`  first byte direct  p50 ${fmt(pct(ds.ttfb, 50))}  p99 ${fmt(pct(ds.ttfb, 99))}`);
    console.log(`  first byte gateway p50 ${fmt(pct(gs.ttfb, 50))}  p99 ${fmt(pct(gs.ttfb, 99))}`);
    console.log(`  first-byte overhead p50 ${fmt(pct(gs.ttfb, 50) - pct(ds.ttfb, 50))}  p99 ${fmt(pct(gs.ttfb, 99) - pct(ds.ttfb, 99))}`);
    console.log(`  whole stream added p50 ${fmt(pct(gs.total, 50) - pct(ds.total, 50))}`);
    const rs = await sequential(pools.gateway, STREAM_BODY.replace("claude-sonnet-4-6", "claude-opus-4-6"), streamN);
    console.log(`  routed stream (2 targets, the first answers; its first event is looked at) first byte p50 ${fmt(pct(rs.ttfb, 50))}, vs one provider ${fmt(pct(rs.ttfb, 50) - pct(gs.ttfb, 50))}`);

    const tpN = 20_000;
    const dRps = await throughput(pools.direct, BODY, tpN, CONCURRENCY);
    const gRps = await throughput(pools.gateway, BODY, tpN, CONCURRENCY);
    console.log(`\nthroughput, ${CONCURRENCY} connections, ${tpN} non-streaming requests`);
    console.log(`  direct ${dRps.toFixed(0)} req/s, gateway ${gRps.toFixed(0)} req/s, ratio ${(gRps / dRps).toFixed(2)}`);

    const dsRps = await throughput(pools.direct, STREAM_BODY, 5000, CONCURRENCY);
    const gsRps = await throughput(pools.gateway, STREAM_BODY, 5000, CONCURRENCY);
    console.log(`  streaming: direct ${dsRps.toFixed(0)} streams/s, gateway ${gsRps.toFixed(0)} streams/s, ratio ${(gsRps / dsRps).toFixed(2)}`);

    // A provider that takes 20 ms to answer (still far faster than any real model call).
    const SLOW_BODY = BODY.replace("claude-sonnet-4-6", "claude-haiku-4-5");
    const slowDirect = await throughput(pools.slow, SLOW_BODY, 10_000, CONCURRENCY);
    const slowGateway = await throughput(pools.gateway, SLOW_BODY, 10_000, CONCURRENCY);
    console.log(`  upstream answering in 20 ms: direct ${slowDirect.toFixed(0)} req/s, gateway ${slowGateway.toFixed(0)} req/s, ratio ${(slowGateway / slowDirect).toFixed(2)}`);

    const pid = gw.child.pid!;
    const samples: string[] = [];
    let peak = rssMiB(pid);
    const startRss = peak;
    await throughput(pools.gateway, BODY, LONG_RUN, CONCURRENCY, (done) => {
      const rss = rssMiB(pid);
      peak = Math.max(peak, rss);
      if (done % 20_000 === 0) samples.push(`${done / 1000}k: ${rss.toFixed(0)} MiB`);
    });
    const events = 500_000;
    const before = rssMiB(pid);
    let longPeak = before;
    const sampler = setInterval(() => (longPeak = Math.max(longPeak, rssMiB(pid))), 50);
    const t0 = performance.now();
    const res = await pools.gateway.request({ path: "/v1/messages", method: "POST", headers: HEADERS, body: STREAM_BODY.replace("{", `{"long_stream_events":${events},`) });
    let bytes = 0;
    for await (const chunk of res.body) bytes += (chunk as Buffer).byteLength;
    clearInterval(sampler);
    console.log(`\none stream of ${events} events (${(bytes / 2 ** 20).toFixed(0)} MiB) through the gateway in ${((performance.now() - t0) / 1000).toFixed(1)} s: gateway RSS ${before.toFixed(0)} → peak ${longPeak.toFixed(0)} MiB`);

    console.log(`\ngateway RSS over ${LONG_RUN} requests: start ${startRss.toFixed(0)} MiB, peak ${peak.toFixed(0)} MiB, end ${rssMiB(pid).toFixed(0)} MiB`);
    console.log(`  ${samples.join(", ")}`);
  } finally {
    await Promise.all(Object.values(pools).map((p) => p.close()));
    gw.child.kill("SIGTERM");
    up.child.kill("SIGTERM");
    slow.child.kill("SIGTERM");
  }
}

async function all(): Promise<void> {
  await main();
  console.log("\nBedrock stream vs Anthropic stream (SigV4 signing + event-stream decoding):");
  const { benchBedrock } = await import("./bedrock.js");
  await benchBedrock({ iterations: 1000 });
  console.log("\nshell analysis per tool call:");
  execFileSync(process.execPath, ["--import", "tsx", "bench/shell.ts", "--rounds=50"], { stdio: "inherit" });
}

all().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
