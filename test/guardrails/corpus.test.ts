// Precision/recall of the guardrail rules over a labelled corpus of real-looking agent shell commands.
// "Dangerous" = at least one finding whose action is flag or block; log-only findings count as benign.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { analyzeToolCall } from "../../gateway/guardrails/analyze.js";
import { defaultCatalog, loadRules } from "../../gateway/guardrails/rules/index.js";
import { CATEGORIES, type Category } from "../../gateway/guardrails/rules/types.js";

interface Entry {
  cmd: string;
  dangerous: boolean;
  categories: Category[];
  /** "holdout": written after the first version of the rules and committed before it was measured. */
  set?: string;
}

const corpus: Entry[] = readFileSync(new URL("./corpus.jsonl", import.meta.url), "utf8")
  .split("\n")
  .filter((l) => l.trim() !== "")
  .map((l) => JSON.parse(l) as Entry);

function ratio(a: number, b: number): number {
  return b === 0 ? 1 : a / b;
}

test("corpus is well-formed and large enough", () => {
  assert.ok(corpus.length >= 220, `corpus has ${corpus.length} entries`);
  for (const e of corpus) {
    assert.equal(e.dangerous, e.categories.length > 0, `label mismatch: ${e.cmd}`);
    for (const c of e.categories) assert.ok((CATEGORIES as readonly string[]).includes(c), `unknown category ${c}`);
  }
  const dangerous = corpus.filter((e) => e.dangerous).length;
  assert.ok(dangerous > 50 && corpus.length - dangerous > dangerous, "benign commands outnumber dangerous ones");
});

test("precision and recall over dangerous-or-not are at least 0.95", () => {
  const rules = loadRules(defaultCatalog());
  let tp = 0;
  let fp = 0;
  let fn = 0;
  const perSet = new Map<string, { tp: number; fp: number; fn: number }>();
  const perCat = new Map<Category, { tp: number; fp: number; fn: number }>(CATEGORIES.map((c) => [c, { tp: 0, fp: 0, fn: 0 }]));
  const misses: string[] = [];
  corpus.forEach((e, i) => {
    const { findings } = analyzeToolCall({ id: `c${i}`, name: "Bash", shape: "tool_use", input: { command: e.cmd }, index: 0 }, rules);
    const acted = findings.filter((f) => f.action !== "log");
    const flagged = acted.length > 0;
    const set = perSet.get(e.set ?? "initial") ?? { tp: 0, fp: 0, fn: 0 };
    perSet.set(e.set ?? "initial", set);
    if (flagged && e.dangerous) set.tp++;
    else if (flagged) set.fp++;
    else if (e.dangerous) set.fn++;
    if (flagged && e.dangerous) tp++;
    else if (flagged) {
      fp++;
      misses.push(`FP ${JSON.stringify(e.cmd)} ← ${acted.map((f) => f.ruleId).join(", ")}`);
    } else if (e.dangerous) {
      fn++;
      misses.push(`FN ${JSON.stringify(e.cmd)} [${e.categories.join(",")}]`);
    }
    const got = new Set(acted.map((f) => f.category));
    for (const c of CATEGORIES) {
      const s = perCat.get(c);
      if (!s) continue;
      const want = e.categories.includes(c);
      if (want && got.has(c)) s.tp++;
      else if (got.has(c)) s.fp++;
      else if (want) s.fn++;
    }
  });
  const precision = ratio(tp, tp + fp);
  const recall = ratio(tp, tp + fn);
  const lines = [
    `corpus: ${corpus.length} commands, ${tp + fn} dangerous`,
    `overall  precision ${precision.toFixed(3)}  recall ${recall.toFixed(3)}  (tp ${tp}, fp ${fp}, fn ${fn})`,
    ...[...perSet].map(
      ([name, s]) => `  set ${name.padEnd(18)} precision ${ratio(s.tp, s.tp + s.fp).toFixed(3)}  recall ${ratio(s.tp, s.tp + s.fn).toFixed(3)}`,
    ),
    ...[...perCat].map(
      ([c, s]) =>
        `  ${c.padEnd(22)} precision ${ratio(s.tp, s.tp + s.fp).toFixed(3)}  recall ${ratio(s.tp, s.tp + s.fn).toFixed(3)}  (tp ${s.tp}, fp ${s.fp}, fn ${s.fn})`,
    ),
    ...misses.map((m) => `  ${m}`),
  ];
  console.log(lines.join("\n"));
  assert.ok(precision >= 0.95, `precision ${precision.toFixed(3)} < 0.95`);
  assert.ok(recall >= 0.95, `recall ${recall.toFixed(3)} < 0.95`);
});
