// tsx bench/stream-memory.ts [--bytes=N] [--no-build] [--build=DIR]: the bench's long-stream scenario alone. One stream
// of N bytes (default 1 GiB) through the gateway (the bench config), RSS sampled every 50 ms, the gateway's CPU time. GATEWAY_NODE_OPTIONS reaches the
// gateway's node (e.g. --trace-gc). A benchmark, not a test.
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Pool } from "undici";
import { writeBenchConfig } from "./gateway-config.js";
import { cpuMs, rssMiB, spawnReady, stop } from "./procs.js";

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, "").split("=") as [string, string]));
const BYTES = Number(args.get("bytes") ?? 2 ** 30);
const HEADERS = { "content-type": "application/json", "x-api-key": "placeholder", "anthropic-version": "2023-06-01" };
const BODY = JSON.stringify({ model: "claude-sonnet-4-6", max_tokens: 64, messages: [{ role: "user", content: "hello" }] });
const STREAM_BODY = BODY.replace("{", '{"stream":true,');

if (!args.has("no-build") && !args.has("build")) execFileSync("npx", ["tsc", "-p", "tsconfig.build.json"], { stdio: "inherit" });
const dir = mkdtempSync(join(tmpdir(), "keyless-stream-memory-"));
const [up, tailscaled] = await Promise.all([
  spawnReady(["--import", "tsx", "bench/upstream-server.ts"], /listening (\d+)/),
  spawnReady(["--import", "tsx", "bench/fake-tailscaled.ts"], /socket (\S+)\n/),
]);
const upstreamUrl = `http://127.0.0.1:${up.match[1]}`;
const config = writeBenchConfig(dir, "stream", { upstreamUrl, slowUrl: upstreamUrl, tailscaledSocket: tailscaled.match[1]! });
const gatewayOptions = (process.env.GATEWAY_NODE_OPTIONS ?? "").split(" ").filter(Boolean);
const gw = await spawnReady(
  [...gatewayOptions, join(args.get("build") ?? "build", "gateway/cli.js"), "serve", "--config", config, "--listen", "127.0.0.1:0"],
  /serving on (http:\/\/\S+)/,
  {},
  (text) => process.stderr.write(text),
);
const pid = gw.child.pid!;
const pool = new Pool(gw.match[1]!, { connections: 4 });
try {
  // Warm: the same path with short streams (JIT, SQLite statements, WhoIs), as the bench has run before its stream.
  for (let i = 0; i < 200; i++) {
    const res = await pool.request({ path: "/v1/messages", method: "POST", headers: HEADERS, body: STREAM_BODY });
    for await (const _ of res.body);
  }
  await new Promise((r) => setTimeout(r, 500));
  const before = rssMiB(pid);
  let peak = before;
  const samples: number[] = [];
  const sampler = setInterval(() => {
    const rss = rssMiB(pid);
    peak = Math.max(peak, rss);
    samples.push(rss);
  }, 50);
  const t0 = performance.now();
  const cpu0 = cpuMs(pid);
  const res = await pool.request({ path: "/v1/messages", method: "POST", headers: HEADERS, body: STREAM_BODY.replace("{", `{"long_stream_bytes":${BYTES},`) });
  let bytes = 0;
  for await (const chunk of res.body) bytes += (chunk as Buffer).byteLength;
  clearInterval(sampler);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = (cpuMs(pid) - cpu0) / 1000;
  await new Promise((r) => setTimeout(r, 500));
  const step = Math.max(1, Math.floor(samples.length / 10));
  console.log(`one stream (${(bytes / 2 ** 20).toFixed(0)} MiB) in ${seconds.toFixed(1)} s (${(bytes / 2 ** 20 / seconds).toFixed(0)} MiB/s), gateway CPU ${cpu.toFixed(2)} s (${((cpu * 1000) / (bytes / 2 ** 20)).toFixed(1)} ms/MiB)`);
  console.log(`  RSS before ${before.toFixed(1)} MiB, peak ${peak.toFixed(1)} MiB (+${(peak - before).toFixed(1)}), after ${rssMiB(pid).toFixed(1)} MiB`);
  console.log(`  samples: ${samples.filter((_, i) => i % step === 0).map((s) => s.toFixed(0)).join(" ")}`);
} finally {
  await pool.close();
  await Promise.all([gw.child, up.child, tailscaled.child].map(stop));
}
