// npx tsx bench/shell.ts [--rounds=200]: per-call time of analyzeToolCall (classify + shell parse + rules) over the
// labelled corpus, plus the slowest commands. A benchmark, not a test: numbers depend on the machine.
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import type { ToolCall } from "../gateway/formats/types.js";
import { analyzeToolCall } from "../gateway/tools/analyze.js";
import { defaultCatalog, loadRules } from "../gateway/tools/rules/index.js";

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, "").split("=") as [string, string]));
const ROUNDS = Number(args.get("rounds") ?? 200);

const commands = readFileSync(new URL("../test/tools/corpus.jsonl", import.meta.url), "utf8")
  .split("\n")
  .filter((l) => l.trim() !== "")
  .map((l) => (JSON.parse(l) as { cmd: string }).cmd);
const calls: ToolCall[] = commands.map((command, i) => ({ id: `b${i}`, name: "Bash", shape: "tool_use", input: { command }, index: 0 }));

const t0 = performance.now();
const rules = loadRules(defaultCatalog());
const compileMs = performance.now() - t0;

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
