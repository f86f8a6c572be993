// tsx bench/compare.ts --builds=A,B [--mode=stream|json|throughput] [--stream] [--rounds=6] [--n=300]: two compiled gateways
// (directories holding gateway/cli.js, e.g. a copy of build/ from before a change under .scratch/) against one fake
// upstream, measured in alternating rounds (A B, B A, …) so a burst of other load on the shared machine hits both
// alike. Each round also measures the upstream direct; figures are overheads over it, or req/s and CPU per request.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Pool } from "undici";
import { writeBenchConfig } from "./gateway-config.js";
import { cpuMs, one, spawnReady, stop } from "./procs.js";

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, "").split("=") as [string, string]));
const builds = (args.get("builds") ?? "build").split(",");
const MODE = args.get("mode") ?? "stream";
const ROUNDS = Number(args.get("rounds") ?? 6);
const N = Number(args.get("n") ?? 300);
const CONCURRENCY = Number(args.get("concurrency") ?? 64);

const BODY = JSON.stringify({ model: "claude-sonnet-4-6", max_tokens: 64, messages: [{ role: "user", content: "hello" }] });
const STREAM_BODY = BODY.replace("{", '{"stream":true,');
// --stream with --mode=throughput: concurrent streams (13 events each), for CPU per stream.
const body = MODE === "stream" || args.has("stream") ? STREAM_BODY : BODY;

async function sequential(pool: Pool, n: number): Promise<number[]> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = await one(pool, body);
    xs.push(MODE === "stream" ? r.ttfb : r.total);
  }
  return xs.sort((a, b) => a - b);
}

async function throughput(pool: Pool, n: number): Promise<number> {
  let started = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (started < n) {
        started++;
        await one(pool, body);
      }
    }),
  );
  return n / ((performance.now() - t0) / 1000);
}

const pct = (sorted: readonly number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const range = (xs: readonly number[], digits: number) => `median ${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)} to ${Math.max(...xs).toFixed(digits)})`;

const dir = mkdtempSync(join(tmpdir(), "keyless-compare-"));
const [up, tailscaled] = await Promise.all([
  spawnReady(["--import", "tsx", "bench/upstream-server.ts"], /listening (\d+)/),
  spawnReady(["--import", "tsx", "bench/fake-tailscaled.ts"], /socket (\S+)\n/),
]);
const upstreamUrl = `http://127.0.0.1:${up.match[1]}`;
const gateways = await Promise.all(
  builds.map(async (build, i) => {
    const config = writeBenchConfig(dir, `g${i}`, { upstreamUrl, slowUrl: upstreamUrl, tailscaledSocket: tailscaled.match[1]! });
    const gw = await spawnReady([join(build, "gateway/cli.js"), "serve", "--config", config, "--listen", "127.0.0.1:0"], /serving on (http:\/\/\S+)/);
    return { build, child: gw.child, pid: gw.child.pid!, pool: new Pool(gw.match[1]!, { connections: CONCURRENCY }) };
  }),
);
const direct = new Pool(upstreamUrl, { connections: CONCURRENCY });
try {
  for (const g of gateways) await throughput(g.pool, 2000);
  await throughput(direct, 2000);
  const results = gateways.map(() => ({ p50: [] as number[], p99: [] as number[], rps: [] as number[], cpu: [] as number[] }));
  for (let round = 0; round < ROUNDS; round++) {
    const order = gateways.map((_, i) => i);
    if (round % 2 === 1) order.reverse();
    const line: string[] = [];
    if (MODE === "throughput") {
      for (const i of order) {
        const g = gateways[i]!;
        const cpu0 = cpuMs(g.pid);
        const rps = await throughput(g.pool, N);
        const cpu = (cpuMs(g.pid) - cpu0) / N;
        results[i]!.rps.push(rps);
        results[i]!.cpu.push(cpu);
        line.push(`${g.build}: ${rps.toFixed(0)} req/s, ${cpu.toFixed(3)} ms CPU/req`);
      }
    } else {
      const d = await sequential(direct, N);
      for (const i of order) {
        const g = gateways[i]!;
        const xs = await sequential(g.pool, N);
        results[i]!.p50.push(pct(xs, 50) - pct(d, 50));
        results[i]!.p99.push(pct(xs, 99) - pct(d, 99));
        line.push(`${g.build}: +${(pct(xs, 50) - pct(d, 50)).toFixed(3)} / +${(pct(xs, 99) - pct(d, 99)).toFixed(3)} ms`);
      }
    }
    console.log(`round ${round + 1}: ${line.join("; ")}`);
  }
  const what = MODE === "stream" ? "first-byte overhead" : "added latency";
  for (const [i, g] of gateways.entries()) {
    const r = results[i]!;
    if (MODE === "throughput") console.log(`${g.build}: ${range(r.rps, 0)} req/s; CPU/req ${range(r.cpu, 3)} ms`);
    else console.log(`${g.build}: ${what} p50 ${range(r.p50, 3)} ms; p99 ${range(r.p99, 3)} ms`);
  }
} finally {
  await Promise.all([direct, ...gateways.map((g) => g.pool)].map((p) => p.close()));
  await Promise.all([...gateways.map((g) => g.child), up.child, tailscaled.child].map(stop));
}
