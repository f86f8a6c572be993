// npx tsx bench/shell.ts [--rounds=200]: per-call time of analyzeToolCall (classify + shell parse + rules) over the
// labelled corpus, plus the slowest commands, and what the same analysis costs when sent to a worker thread and back
// (the alternative to bounded analysis on the event loop). A benchmark, not a test: numbers depend on the machine.
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { Worker, isMainThread, parentPort } from "node:worker_threads";
import type { ToolCall } from "../gateway/formats/types.js";
import { analyzeToolCall } from "../gateway/guardrails/analyze.js";
import { defaultCatalog, loadRules } from "../gateway/guardrails/rules/index.js";

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, "").split("=") as [string, string]));
const ROUNDS = Number(args.get("rounds") ?? 200);

const commands = readFileSync(new URL("../test/guardrails/corpus.jsonl", import.meta.url), "utf8")
  .split("\n")
  .filter((l) => l.trim() !== "")
  .map((l) => (JSON.parse(l) as { cmd: string }).cmd);
const calls: ToolCall[] = commands.map((command, i) => ({ id: `b${i}`, name: "Bash", shape: "tool_use", input: { command }, index: 0 }));

const t0 = performance.now();
const rules = loadRules(defaultCatalog());
const compileMs = performance.now() - t0;

if (!isMainThread) {
  // Worker side: analyse what the main thread sends, answer with the findings (structured-cloned back).
  parentPort?.on("message", (m: { n: number; call: ToolCall }) => parentPort?.postMessage({ n: m.n, findings: analyzeToolCall(m.call, rules).findings }));
} else {
  await main();
}

async function main(): Promise<void> {
  // Warm up the JIT before measuring.
  for (let r = 0; r < 20; r++) for (const c of calls) analyzeToolCall(c, rules);

  const samples = new Float64Array(ROUNDS * calls.length);
  const worst = new Map<number, number>();
  let n = 0;
  let sink = 0;
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, c] of calls.entries()) {
      const s = performance.now();
      sink += analyzeToolCall(c, rules).findings.length;
      const d = performance.now() - s;
      samples[n++] = d;
      worst.set(i, Math.max(worst.get(i) ?? 0, d));
    }
  }
  samples.sort();
  const pct = (p: number): number => samples[Math.min(samples.length - 1, Math.floor((p / 100) * samples.length))] ?? 0;
  const us = (ms: number): string => `${(ms * 1000).toFixed(1)} µs`;
  console.log(`corpus: ${calls.length} commands × ${ROUNDS} rounds = ${samples.length} analyses (findings checksum ${sink})`);
  console.log(`rule compilation: ${compileMs.toFixed(2)} ms (once per config load)`);
  console.log(`per call: p50 ${us(pct(50))}  p90 ${us(pct(90))}  p99 ${us(pct(99))}  p99.9 ${us(pct(99.9))}  max ${us(samples[samples.length - 1] ?? 0)}`);
  const slow = [...worst].sort((a, b) => b[1] - a[1]).slice(0, 5);
  console.log("slowest commands (worst single run):");
  for (const [i, ms] of slow) console.log(`  ${us(ms).padStart(10)}  ${JSON.stringify(commands[i]).slice(0, 100)}`);

  // The same calls through a worker thread, one at a time (as a response's calls would be): round trip per call.
  const worker = new Worker(`import("tsx/esm/api").then((m) => { m.register(); return import(${JSON.stringify(import.meta.url)}); });`, { eval: true });
  const waiting = new Map<number, () => void>();
  worker.on("message", (m: { n: number }) => waiting.get(m.n)?.());
  const roundTrip = (n: number, call: ToolCall) => new Promise<void>((resolve) => {
    waiting.set(n, resolve);
    worker.postMessage({ n, call });
  });
  for (const [i, c] of calls.entries()) await roundTrip(i, c);
  const trips = new Float64Array(Math.max(1, Math.floor(ROUNDS / 10)) * calls.length);
  let t = 0;
  for (let r = 0; r < trips.length / calls.length; r++) {
    for (const c of calls) {
      const s = performance.now();
      await roundTrip(t, c);
      trips[t++] = performance.now() - s;
    }
  }
  await worker.terminate();
  trips.sort();
  const tp = (p: number): number => trips[Math.min(trips.length - 1, Math.floor((p / 100) * trips.length))] ?? 0;
  console.log(`worker thread round trip per call: p50 ${us(tp(50))}  p99 ${us(tp(99))}  (${(tp(50) / pct(50)).toFixed(1)}× the inline p50)`);
}
