// npm run bench [-- --quick]: the same load direct to a fake upstream, through a bare node:http + undici proxy, and
// through the gateway (identity tailscale against a fake LocalAPI in its own process, grants, a budget, tool-call
// extraction, metrics and SQLite logging all on), on loopback, in one run. Prints every target of issue 14 with its
// measured value. A benchmark, not a test: the numbers depend on the machine and on whatever else it runs.
import { type ChildProcess, execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Pool } from "undici";
import { writeBenchConfig } from "./gateway-config.js";
import { HEADERS, cpuMs, one, rssMiB, spawnReady, stop } from "./procs.js";

const argv = process.argv.slice(2);
const args = new Map(argv.map((a) => a.replace(/^--/, "").split("=") as [string, string]));
const QUICK = args.has("quick");
const CONCURRENCY = Number(args.get("concurrency") ?? 64);
const N = {
  warm: QUICK ? 1000 : 3000,
  sequential: QUICK ? 1000 : 3000,
  streams: QUICK ? 200 : 500,
  throughput: QUICK ? 5000 : 10_000,
  rounds: QUICK ? 2 : 3,
  long: Number(args.get("requests") ?? (QUICK ? 10_000 : 100_000)),
  bigStreamBytes: QUICK ? 128 * 2 ** 20 : 2 ** 30,
};

const pct = (sorted: readonly number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const ms = (v: number) => `${v.toFixed(3)} ms`;
const rps = (v: number) => `${v.toFixed(0)} req/s`;

const BODY = JSON.stringify({ model: "claude-sonnet-4-6", max_tokens: 64, messages: [{ role: "user", content: "hello" }] });
const STREAM_BODY = BODY.replace("{", '{"stream":true,');

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

async function throughput(pool: Pool, body: string, n: number, concurrency = CONCURRENCY, onProgress?: (done: number) => void): Promise<number> {
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

/** Throughput and the CPU the serving processes spent per request (what scales with cores on a bigger host). */
async function measured(pool: Pool, pid: number, n: number, body = BODY): Promise<{ rps: number; cpuPerRequest: number }> {
  const cpu0 = cpuMs(pid);
  const r = await throughput(pool, body, n);
  return { rps: r, cpuPerRequest: (cpuMs(pid) - cpu0) / n };
}

interface Target {
  readonly name: string;
  readonly measured: string;
  readonly target: string;
  readonly met: boolean;
}
const targets: Target[] = [];
const check = (name: string, value: number, limit: number, unit: string, atLeast = false) =>
  targets.push({
    name,
    measured: `${value.toFixed(unit === "×" ? 2 : 3)} ${unit}`,
    target: `${atLeast ? "≥" : "≤"} ${limit} ${unit}`,
    met: atLeast ? value >= limit : value <= limit,
  });

interface Gateway {
  readonly url: string;
  readonly pid: number;
  readonly child: ChildProcess;
}

async function startKeyless(configPath: string, workers: number): Promise<Gateway> {
  const gw = await spawnReady(
    ["build/gateway/cli.js", "serve", "--config", configPath, "--listen", "127.0.0.1:0", "--workers", String(workers)],
    /serving on (http:\/\/\S+)/,
  );
  return { url: gw.match[1]!, pid: gw.child.pid!, child: gw.child };
}

async function main(): Promise<void> {
  // The gateway runs as users run it: the compiled build, not through tsx.
  execFileSync("npx", ["tsc", "-p", "tsconfig.build.json"], { stdio: "inherit" });
  const dir = mkdtempSync(join(tmpdir(), "keyless-bench-"));
  const [up, slow, tailscaled] = await Promise.all([
    spawnReady(["--import", "tsx", "bench/upstream-server.ts"], /listening (\d+)/),
    spawnReady(["--import", "tsx", "bench/upstream-server.ts"], /listening (\d+)/, { DELAY_MS: "20" }),
    spawnReady(["--import", "tsx", "bench/fake-tailscaled.ts"], /socket (\S+)\n/),
  ]);
  const upstreamUrl = `http://127.0.0.1:${up.match[1]}`;
  const slowUrl = `http://127.0.0.1:${slow.match[1]}`;
  const bare = await spawnReady(["--import", "tsx", "bench/bare-proxy.ts"], /listening (\d+)/, { UPSTREAM: upstreamUrl });
  const bareUrl = `http://127.0.0.1:${bare.match[1]}`;
  const configFor = (name: string) => writeBenchConfig(dir, name, { upstreamUrl, slowUrl, tailscaledSocket: tailscaled.match[1]! });
  const gw = await startKeyless(configFor("w1"), 1);
  const pools = {
    direct: new Pool(upstreamUrl, { connections: CONCURRENCY }),
    slow: new Pool(slowUrl, { connections: CONCURRENCY }),
    bare: new Pool(bareUrl, { connections: CONCURRENCY }),
    gateway: new Pool(gw.url, { connections: CONCURRENCY }),
  };
  let gatewayPoolClosed = false;
  const stopAll: ChildProcess[] = [gw.child, bare.child, up.child, slow.child, tailscaled.child];

  try {
    // Warm every path (JIT, connection pools, SQLite statements, WhoIs per connection).
    for (const pool of [pools.direct, pools.bare, pools.gateway]) await throughput(pool, BODY, N.warm);
    await throughput(pools.gateway, STREAM_BODY, 200, 16);

    console.log(`\nnon-streaming, 1 connection, ${N.sequential} requests each`);
    const d1 = await sequential(pools.direct, BODY, N.sequential);
    const b1 = await sequential(pools.bare, BODY, N.sequential);
    const g1 = await sequential(pools.gateway, BODY, N.sequential);
    for (const [name, r] of [["direct", d1], ["bare proxy", b1], ["keyless", g1]] as const) {
      console.log(`  ${name.padEnd(10)} p50 ${ms(pct(r.total, 50))}  p99 ${ms(pct(r.total, 99))}`);
    }
    console.log(`  added by the bare proxy p50 ${ms(pct(b1.total, 50) - pct(d1.total, 50))}  p99 ${ms(pct(b1.total, 99) - pct(d1.total, 99))}`);
    check("added latency p50, 1 connection", pct(g1.total, 50) - pct(d1.total, 50), 0.3, "ms");
    check("added latency p99, 1 connection", pct(g1.total, 99) - pct(d1.total, 99), 1.5, "ms");

    console.log(`\nstreaming (13 SSE events, 2 ms apart), 1 connection, ${N.streams} streams each`);
    const ds = await sequential(pools.direct, STREAM_BODY, N.streams);
    const bs = await sequential(pools.bare, STREAM_BODY, N.streams);
    const gs = await sequential(pools.gateway, STREAM_BODY, N.streams);
    for (const [name, r] of [["direct", ds], ["bare proxy", bs], ["keyless", gs]] as const) {
      console.log(`  ${name.padEnd(10)} first byte p50 ${ms(pct(r.ttfb, 50))}  p99 ${ms(pct(r.ttfb, 99))}  whole stream p50 ${ms(pct(r.total, 50))}`);
    }
    check("stream first-byte overhead p50", pct(gs.ttfb, 50) - pct(ds.ttfb, 50), 0.5, "ms");
    check("stream first-byte overhead p99", pct(gs.ttfb, 99) - pct(ds.ttfb, 99), 1.5, "ms");
    const ROUTED_BODY = BODY.replace("claude-sonnet-4-6", "claude-opus-4-6");
    const r1 = await sequential(pools.gateway, ROUTED_BODY, N.sequential);
    const g1again = await sequential(pools.gateway, BODY, N.sequential);
    console.log(`  routed (2 targets, the first answers) p50 ${ms(pct(r1.total, 50))}  p99 ${ms(pct(r1.total, 99))}`);
    console.log(`  routing added vs one provider (measured again) p50 ${ms(pct(r1.total, 50) - pct(g1again.total, 50))}  p99 ${ms(pct(r1.total, 99) - pct(g1again.total, 99))}`);
    const rs = await sequential(pools.gateway, STREAM_BODY.replace("claude-sonnet-4-6", "claude-opus-4-6"), N.streams);
    console.log(`  routed stream (2 targets, the first answers) first byte p50 ${ms(pct(rs.ttfb, 50))}, vs one provider ${ms(pct(rs.ttfb, 50) - pct(gs.ttfb, 50))}`);

    // Rounds alternate bare proxy and keyless, so a burst of other load on the machine hits both alike.
    console.log(`\nthroughput, ${CONCURRENCY} connections, ${N.throughput} non-streaming requests, ${N.rounds} alternating rounds`);
    const ratios: number[] = [];
    const cpuRatios: number[] = [];
    for (let round = 1; round <= N.rounds; round++) {
      const direct = await measured(pools.direct, up.child.pid!, N.throughput);
      const b = await measured(pools.bare, bare.child.pid!, N.throughput);
      const g = await measured(pools.gateway, gw.pid, N.throughput);
      ratios.push(g.rps / b.rps);
      cpuRatios.push(g.cpuPerRequest / b.cpuPerRequest);
      console.log(
        `  round ${round}: direct ${rps(direct.rps)}, bare proxy ${rps(b.rps)} (${ms(b.cpuPerRequest)} CPU/req), keyless ${rps(g.rps)} (${ms(g.cpuPerRequest)} CPU/req), keyless/bare ${(g.rps / b.rps).toFixed(2)}`,
      );
    }
    check(`throughput at ${CONCURRENCY} connections, keyless / bare proxy (median of ${N.rounds})`, median(ratios), 0.8, "×", true);
    // What the ratio comes to on a host where the proxies do not share two cores with the load client and upstream.
    console.log(`  CPU per request, keyless / bare proxy: ${median(cpuRatios).toFixed(1)} × (median of ${N.rounds})`);

    const dsRps = await throughput(pools.direct, STREAM_BODY, N.throughput / 4);
    const gsRps = await throughput(pools.gateway, STREAM_BODY, N.throughput / 4);
    console.log(`  streams: direct ${dsRps.toFixed(0)}/s, keyless ${gsRps.toFixed(0)}/s, ratio ${(gsRps / dsRps).toFixed(2)}`);
    // A provider that takes 20 ms to answer (still far faster than any real model call).
    const SLOW_BODY = BODY.replace("claude-sonnet-4-6", "claude-haiku-4-5");
    const slowDirect = await throughput(pools.slow, SLOW_BODY, N.throughput / 2);
    const slowGateway = await throughput(pools.gateway, SLOW_BODY, N.throughput / 2);
    console.log(`  upstream answering in 20 ms: direct ${rps(slowDirect)}, keyless ${rps(slowGateway)}, ratio ${(slowGateway / slowDirect).toFixed(2)}`);

    // Memory: RSS after all the above (warm), then over the long run.
    const samples: string[] = [];
    const warmRss = rssMiB(gw.pid);
    let peak = warmRss;
    const t0 = performance.now();
    await throughput(pools.gateway, BODY, N.long, CONCURRENCY, (done) => {
      const rss = rssMiB(gw.pid);
      peak = Math.max(peak, rss);
      if (done % (N.long / 5) === 0) samples.push(`${done / 1000}k: ${rss.toFixed(0)} MiB`);
    });
    const longSeconds = (performance.now() - t0) / 1000;
    const endRss = rssMiB(gw.pid);
    console.log(`\nkeyless RSS over ${N.long} requests at ${CONCURRENCY} connections (${longSeconds.toFixed(0)} s): after warm-up ${warmRss.toFixed(0)} MiB, peak ${peak.toFixed(0)} MiB, end ${endRss.toFixed(0)} MiB`);
    console.log(`  ${samples.join(", ")}`);
    check(`RSS change over ${N.long} requests`, (Math.abs(endRss - warmRss) / warmRss) * 100, 10, "%");

    const before = rssMiB(gw.pid);
    let streamPeak = before;
    const sampler = setInterval(() => (streamPeak = Math.max(streamPeak, rssMiB(gw.pid))), 50);
    const s0 = performance.now();
    const res = await pools.gateway.request({ path: "/v1/messages", method: "POST", headers: HEADERS, body: STREAM_BODY.replace("{", `{"long_stream_bytes":${N.bigStreamBytes},`) });
    let bytes = 0;
    for await (const chunk of res.body) bytes += (chunk as Buffer).byteLength;
    clearInterval(sampler);
    console.log(`\none stream (${(bytes / 2 ** 20).toFixed(0)} MiB) through keyless in ${((performance.now() - s0) / 1000).toFixed(1)} s: RSS ${before.toFixed(0)} → peak ${streamPeak.toFixed(0)} MiB`);
    check(`RSS added by one ${(bytes / 2 ** 20).toFixed(0)} MiB stream`, streamPeak - before, 10, "MiB");

    // Workers: the same load against 1 and 2 processes. On 2 cores the load client and the upstream compete with them,
    // so CPU per request is the figure that carries over to a bigger host.
    console.log(`\nkeyless serve --workers N, ${CONCURRENCY} connections, ${N.throughput} requests`);
    // Fresh connections: the pool's sat idle through the long stream, past the server's keep-alive (a request sent as
    // the server closes one is reset, and undici does not retry a POST).
    await pools.gateway.close();
    gatewayPoolClosed = true;
    const pool1 = new Pool(gw.url, { connections: CONCURRENCY });
    const w1 = await measured(pool1, gw.pid, N.throughput).finally(() => pool1.close());
    await stop(gw.child);
    const gw2 = await startKeyless(configFor("w2"), 2);
    stopAll.push(gw2.child);
    const pool2 = new Pool(gw2.url, { connections: CONCURRENCY });
    try {
      await throughput(pool2, BODY, N.warm);
      const w2 = await measured(pool2, gw2.pid, N.throughput);
      console.log(`  1 worker:  ${rps(w1.rps)}, ${ms(w1.cpuPerRequest)} CPU per request`);
      console.log(`  2 workers: ${rps(w2.rps)}, ${ms(w2.cpuPerRequest)} CPU per request (ratio ${(w2.rps / w1.rps).toFixed(2)})`);
    } finally {
      await pool2.close();
    }
  } finally {
    await Promise.all([pools.direct, pools.slow, pools.bare].map((p) => p.close()));
    if (!gatewayPoolClosed) await pools.gateway.close();
    await Promise.all(stopAll.map(stop));
  }

  console.log("\ntargets (issue 14), measured in this run:");
  const width = Math.max(...targets.map((t) => t.name.length));
  for (const t of targets) console.log(`  ${t.name.padEnd(width)}  ${t.measured.padStart(10)}  target ${t.target.padEnd(9)}  ${t.met ? "met" : "NOT MET"}`);
}

async function all(): Promise<void> {
  await main();
  if (QUICK) return;
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
