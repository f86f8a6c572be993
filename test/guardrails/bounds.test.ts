// The shell analyzer's costs are bounded: every expansion, step, byte, nesting level and millisecond is counted, and
// a script past a bound is reported as "not fully analysed" (obf.analysis-limit), flagged or blocked, never as safe.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { GrantValue } from "../../gateway/config/grants.js";
import type { Access } from "../../gateway/access/grants.js";
import { entitlementFor } from "../../gateway/access/caller.js";
import { analyzeToolCall } from "../../gateway/guardrails/analyze.js";
import { TimeLimit } from "../../gateway/guardrails/bounds/time-limit.js";
import { ANALYSIS_LIMIT, GuardrailPolicy } from "../../gateway/guardrails/actions.js";
import { defaultCatalog, loadRules } from "../../gateway/guardrails/rules/index.js";
import { DEFAULT_LIMITS, type WalkLimits, analyzeShell } from "../../gateway/guardrails/shell/index.js";
import type { Action } from "../../gateway/guardrails/rules/types.js";

const rules = loadRules(defaultCatalog());
/** The 207-byte call from the security review: 2^28 characters if expanded. */
const DOUBLING = `a=x;${"a=$a$a;".repeat(28)}echo $a`;

/** Every bound but time: for tests of the other bounds, which a busy CI machine must not turn into a time limit. */
const UNTIMED: WalkLimits = { ...DEFAULT_LIMITS, maxMillis: 60_000 };
/** Unbounded, the scripts timed here took 1.2 s and more; bounded, milliseconds (tens on a busy machine). */
const FAST_MS = 1000;
const findings = (command: string, within?: TimeLimit) =>
  analyzeToolCall({ id: "t", name: "Bash", shape: "tool_use", input: { command }, index: 0 }, rules, { limits: UNTIMED, ...(within === undefined ? {} : { within }) }).findings;
const ids = (command: string) => findings(command).map((f) => f.ruleId);
const limited = (script: string, limits: Partial<WalkLimits>) => analyzeShell(script, { ...UNTIMED, ...limits }).limits;

describe("analysis bounds", () => {
  test("the doubling call stops at the value bound, in milliseconds and without memory growth", () => {
    const heap = process.memoryUsage().heapUsed;
    const started = performance.now();
    const a = analyzeShell(DOUBLING, UNTIMED);
    const ms = performance.now() - started;
    assert.equal(DOUBLING.length, 207);
    assert.ok(a.limits.some((l) => l.includes(`longer than ${DEFAULT_LIMITS.maxValue}`)), a.limits.join("; "));
    assert.ok(ms < FAST_MS, `took ${ms} ms`);
    assert.ok(process.memoryUsage().heapUsed - heap < 64e6, "heap grew by more than 64 MB");
    // The value became unknown, so `echo $a` keeps its unresolved text instead of 2^28 characters.
    assert.deepEqual(a.commands.at(-1)?.args, ["$a"]);
    assert.ok(ids(DOUBLING).includes(ANALYSIS_LIMIT));
  });

  test("a value made unknown does not hide what follows it", () => {
    const found = ids(`${DOUBLING}; rm -rf ~`);
    assert.ok(found.includes("fs.rm-root-or-home") && found.includes(ANALYSIS_LIMIT), found.join(","));
  });

  test("deep nesting is refused before the parser re-reads it level by level", () => {
    const nested = `${"$(".repeat(25_000)}echo hi${")".repeat(25_000)}`;
    const started = performance.now();
    const a = analyzeShell(nested, UNTIMED);
    assert.ok(performance.now() - started < FAST_MS);
    assert.ok(a.limits.some((l) => l.includes("nested 25000 deep")), a.limits.join("; "));
    assert.ok(ids(`echo ${"$(echo ".repeat(20)}hi${")".repeat(20)}`).every((id) => id !== ANALYSIS_LIMIT), "20 levels are analysed");
  });

  test("xargs and parallel inputs multiply arguments only up to a bound, then count as unknown", () => {
    // 300 inputs times 300 placeholders would be 90 000 arguments.
    const inputs = Array.from({ length: 300 }, (_, i) => `d${i}`).join(" ");
    const started = performance.now();
    const par = analyzeShell(`parallel ${"rm{} ".repeat(300)}::: ${inputs}`, UNTIMED);
    const xa = analyzeShell(`printf '%s\\n' ${inputs} | xargs -I{} ${"echo{} ".repeat(300)}`, UNTIMED);
    assert.ok(performance.now() - started < FAST_MS, `took ${performance.now() - started} ms`);
    assert.ok((par.commands.at(-1)?.args.length ?? 0) <= 4096 && (xa.commands.at(-1)?.args.length ?? 0) <= 4096);
    for (const a of [par, xa]) {
      assert.deepEqual(a.limits, []);
      assert.ok(a.commands.at(-1)?.args.some((x) => x.includes("$XARGS_INPUT")), "past the bound the inputs are unknown");
    }
    // Within the bound they are placed: `rm -rf` on each of 64 known inputs, the home directory among them.
    assert.ok(ids(`parallel rm -rf ::: ${"a ".repeat(60)}~`).includes("fs.rm-root-or-home"));
  });

  test("each bound, alone, ends in a limit", () => {
    assert.match(limited("a=0123456789abc; echo $a", { maxValue: 10 }).join(), /longer than 10 characters/);
    assert.match(limited("echo aaaaaaaaaa bbbbbbbbbb cccccccccc", { maxBytes: 40 }).join(), /building 40 characters/);
    assert.match(limited("a; b; c; d; e; f", { maxSteps: 5 }).join(), /after 5 steps/);
    assert.match(limited("a; b; c", { maxCommands: 2 }).join(), /more than 2 commands/);
    assert.match(limited(`bash -c "bash -c 'x'"`, { maxDepth: 1 }).join(), /deeper than 1 levels/);
    assert.match(limited("echo 1234567890", { maxSource: 5 }).join(), /longer than 5 characters/);
    assert.match(limited("echo $(echo $(echo hi))", { maxNesting: 1 }).join(), /brackets nested 2 deep \(more than 1\)/);
    assert.match(analyzeShell("echo hi", DEFAULT_LIMITS, new TimeLimit(0)).limits.join(), /time limit/);
    // printf reusing a long format for many arguments is not evaluated (it was a quadratic blow-up).
    const printf = `printf '%s${"x".repeat(100)}' ${"a ".repeat(8000)}| sh`;
    const sh = analyzeShell(printf, UNTIMED).commands.find((c) => c.name === "sh");
    assert.ok(sh?.stdinProgram && sh.stdinText === undefined);
    // Appending to a file in a loop of statements stops at the value bound.
    assert.match(limited(`${"echo 0123456789 >> x.sh; ".repeat(20)}bash x.sh`, { maxValue: 100 }).join(), /longer than 100/);
  });

  test("a response's spent time budget: later calls are not analysed", () => {
    const late = findings("ls -la", new TimeLimit(0)).map((f) => f.ruleId);
    assert.deepEqual(late, [ANALYSIS_LIMIT]);
    assert.deepEqual(findings("ls -la", new TimeLimit(10_000)), []);
  });

  test("every corpus command fits well inside the bounds: a tenth of each size and step bound, a quarter of the nesting", () => {
    const tight: WalkLimits = {
      ...DEFAULT_LIMITS,
      maxValue: DEFAULT_LIMITS.maxValue / 10,
      maxBytes: DEFAULT_LIMITS.maxBytes / 10,
      maxSteps: DEFAULT_LIMITS.maxSteps / 10,
      maxCommands: DEFAULT_LIMITS.maxCommands / 10,
      maxNesting: DEFAULT_LIMITS.maxNesting / 4,
      maxMillis: 60_000,
    };
    const corpus = readFileSync(new URL("./corpus.jsonl", import.meta.url), "utf8")
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => (JSON.parse(l) as { cmd: string }).cmd);
    for (const cmd of corpus) assert.deepEqual(analyzeShell(cmd, tight).limits, [], cmd);
  });
});

describe("what an unknown script gets", () => {
  const access = (guardrails?: Record<string, Action>): Access => ({
    role: "user",
    values: [{ origin: "test", value: GrantValue.parse({ role: "user", models: "**", ...(guardrails ? { guardrails } : {}) }) }],
    invalid: [],
    ignored: [],
  });
  const policy = (enforce: boolean, guardrails?: Record<string, Action>) =>
    new GuardrailPolicy(rules, rules.metas, enforce, entitlementFor(access(guardrails), "anthropic/claude-sonnet-4-6").guardrails);
  const limit = { ruleId: ANALYSIS_LIMIT, category: "obfuscation", action: "block" as const };

  test("flagged where nothing blocks, even if a grant logs everything", () => {
    assert.equal(policy(false).actionFor(limit), "flag");
    assert.equal(policy(false, { default: "log" }).actionFor(limit), "flag");
    assert.equal(policy(false, { obfuscation: "log" }).actionFor(limit), "flag");
  });

  test("blocked where the caller's guardrails block anything else", () => {
    assert.equal(policy(false, { destructive_fs: "block" }).actionFor(limit), "block");
    assert.equal(policy(true).actionFor(limit), "block");
  });

  test("a grant naming the rule decides", () => {
    assert.equal(policy(true, { [ANALYSIS_LIMIT]: "flag" }).actionFor(limit), "flag");
    assert.equal(policy(false, { [ANALYSIS_LIMIT]: "block" }).actionFor(limit), "block");
  });
});
