// Time series over the request log and the tool calls, summed per slot in SQL on either engine (integer division of
// the epoch-millisecond column by the step, the same on SQLite and PostgreSQL). Series are bounded: the largest
// MAX_SERIES groups are kept and the rest summed into one "other".
import { type RawBuilder, sql } from "kysely";
import type { Store } from "../store/db.js";
import { analyzeShell } from "../guardrails/shell/index.js";
import { TimeLimit } from "../guardrails/bounds/time-limit.js";
import { MAX_PROGRAMS, MAX_SERIES, TOOL_KINDS, type StatsResponse } from "../ui/schemas/stats.js";
import { type Window, slotOf, zeros } from "./window.js";

export type Group = StatsResponse["group"];

/** Whose rows: a user's own principal, one repository, one PR of it. */
export interface Scope {
  readonly principal?: string;
  readonly repository?: string;
  readonly pr?: number;
}

/** The slot start of `column`, aligned to the window's step. */
const slot = (w: Window, column: string) => sql<number>`(${sql.ref(column)} / ${sql.lit(w.step)}) * ${sql.lit(w.step)}`;

const KEYS: Record<Group, RawBuilder<string>> = {
  model: sql<string>`COALESCE(r.provider, '?') || '/' || COALESCE(r.model, '?')`,
  principal: sql<string>`r.principal`,
  repository: sql<string>`COALESCE(s.repository, '(no CI session)')`,
  pr: sql<string>`CASE WHEN s.pr_number IS NULL THEN '(no PR)' ELSE s.repository || '#' || CAST(s.pr_number AS TEXT) END`,
};

const TOKENS = sql<number>`COALESCE(SUM(r.input_tokens + r.cache_read_tokens + r.cache_write_tokens + r.output_tokens), 0)`;
const COST = sql<number>`COALESCE(SUM(r.cost_nanos), 0)`;

function requestRows(store: Store, w: Window, scope: Scope) {
  return store.db
    .selectFrom("requests as r")
    .leftJoin("ci_sessions as s", "s.id", "r.session_id")
    .where("r.ts", ">=", w.from)
    .where("r.ts", "<", w.to)
    .$if(scope.principal !== undefined, (q) => q.where("r.principal", "=", scope.principal ?? ""))
    .$if(scope.repository !== undefined, (q) => q.where("s.repository", "=", scope.repository ?? ""))
    .$if(scope.pr !== undefined, (q) => q.where("s.pr_number", "=", scope.pr ?? 0));
}

function toolCallRows(store: Store, w: Window, scope: Scope) {
  return store.db
    .selectFrom("tool_calls as t")
    .leftJoin("ci_sessions as s", "s.id", "t.session_id")
    .where("t.ts", ">=", w.from)
    .where("t.ts", "<", w.to)
    .$if(scope.principal !== undefined, (q) => q.where("t.principal", "=", scope.principal ?? ""))
    .$if(scope.repository !== undefined, (q) => q.where("s.repository", "=", scope.repository ?? ""))
    .$if(scope.pr !== undefined, (q) => q.where("s.pr_number", "=", scope.pr ?? 0));
}

/** Requests, errors and denials per slot (counted as the session report counts them), with spend and tokens. */
export async function requestSeries(store: Store, w: Window, scope: Scope) {
  const rows = await requestRows(store, w, scope)
    .select([
      slot(w, "r.ts").as("slot"),
      sql<number>`COUNT(*)`.as("requests"),
      sql<number>`SUM(CASE WHEN r.denial IS NULL AND (r.status >= 400 OR r.error IS NOT NULL) THEN 1 ELSE 0 END)`.as("errors"),
      sql<number>`SUM(CASE WHEN r.denial IS NOT NULL THEN 1 ELSE 0 END)`.as("denials"),
      COST.as("cost"),
      TOKENS.as("tokens"),
    ])
    .groupBy(sql`1`)
    .execute();
  const out = { requests: zeros(w), errors: zeros(w), denials: zeros(w), cost: zeros(w), tokens: zeros(w) };
  for (const r of rows) {
    const i = slotOf(w, r.slot);
    out.requests[i] = r.requests;
    out.errors[i] = r.errors;
    out.denials[i] = r.denials;
    out.cost[i] = r.cost;
    out.tokens[i] = r.tokens;
  }
  return out;
}

/** Spend and tokens per slot for the most expensive groups; `totals` (requestSeries) gives the rest as "other". */
export async function spendSeries(store: Store, w: Window, scope: Scope, group: Group, totals: { cost: number[]; tokens: number[] }): Promise<StatsResponse["spend"]> {
  const key = KEYS[group];
  const top = await requestRows(store, w, scope)
    .select([key.as("key"), COST.as("cost")])
    .groupBy(sql`1`)
    .orderBy(sql`2`, "desc")
    .orderBy(sql`1`)
    .limit(MAX_SERIES + 1)
    .execute();
  const keys = top.slice(0, MAX_SERIES).map((t) => t.key);
  if (keys.length === 0) return { series: [], other: null };
  const rows = await requestRows(store, w, scope)
    .where(key, "in", keys)
    .select([slot(w, "r.ts").as("slot"), key.as("key"), COST.as("cost"), TOKENS.as("tokens")])
    .groupBy([sql`1`, sql`2`])
    .execute();
  const series = keys.map((k) => ({ key: k, cost_nanos: zeros(w), tokens: zeros(w) }));
  const byKey = new Map(series.map((s) => [s.key, s]));
  for (const r of rows) {
    const s = byKey.get(r.key);
    if (!s) continue;
    s.cost_nanos[slotOf(w, r.slot)] = r.cost;
    s.tokens[slotOf(w, r.slot)] = r.tokens;
  }
  if (top.length <= MAX_SERIES) return { series, other: null };
  const { n } = await requestRows(store, w, scope).select(sql<number>`COUNT(DISTINCT ${key})`.as("n")).executeTakeFirstOrThrow();
  const rest = (all: number[], pick: (s: (typeof series)[number]) => number[]) => all.map((v, i) => v - series.reduce((sum, s) => sum + pick(s)[i]!, 0));
  return { series, other: { keys: n - keys.length, cost_nanos: rest(totals.cost, (s) => s.cost_nanos), tokens: rest(totals.tokens, (s) => s.tokens) } };
}

/** Tool calls per kind per slot: the four kinds always, any other kind the store holds after them. */
export async function toolKindSeries(store: Store, w: Window, scope: Scope): Promise<StatsResponse["tool_calls"]> {
  const rows = await toolCallRows(store, w, scope)
    .select([slot(w, "t.ts").as("slot"), "t.kind", sql<number>`COUNT(*)`.as("calls")])
    .groupBy([sql`1`, "t.kind"])
    .execute();
  const kinds = new Map<string, number[]>(TOOL_KINDS.map((k) => [k, zeros(w)]));
  for (const r of rows) {
    if (!kinds.has(r.kind)) kinds.set(r.kind, zeros(w));
    kinds.get(r.kind)![slotOf(w, r.slot)] = r.calls;
  }
  return [...kinds].map(([kind, calls]) => ({ kind, calls }));
}

/** Distinct commands parsed per answer: enough for any real top list, bounded whatever the store holds. */
const COMMANDS_PARSED = 500;
/** Step and size bounds end a parse; CPU time only bounds pathological input (a parse takes well under a millisecond). */
const PARSE_LIMITS = { maxDepth: 4, maxCommands: 100, maxSource: 20_000, maxNesting: 16, maxValue: 20_000, maxBytes: 256 * 1024, maxSteps: 5_000, maxMillis: 100 };
const PARSE_TOTAL_MS = 1000;

/** The programs shell commands ran, parsed with the guardrails' shell parser (wrappers such as sudo and env removed). */
export async function topPrograms(store: Store, w: Window, scope: Scope): Promise<StatsResponse["programs"]> {
  const rows = await toolCallRows(store, w, scope)
    .where("t.kind", "=", "shell")
    .where("t.command", "is not", null)
    .select(["t.command", sql<number>`COUNT(*)`.as("n")])
    .groupBy("t.command")
    .orderBy(sql`2`, "desc")
    .orderBy("t.command")
    .limit(COMMANDS_PARSED)
    .execute();
  const counts = new Map<string, number>();
  const total = new TimeLimit(PARSE_TOTAL_MS);
  for (const { command, n } of rows) {
    const names = total.passed() ? [] : analyzeShell(command ?? "", PARSE_LIMITS, total).commands.map((c) => c.name).filter((name) => name !== "");
    for (const name of names.length > 0 ? names : ["(not parsed)"]) counts.set(name, (counts.get(name) ?? 0) + n);
  }
  return [...counts]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, MAX_PROGRAMS)
    .map(([program, count]) => ({ program, count }));
}

/** Guardrail findings per category per slot (one per finding a call carries): json_each on SQLite, jsonb on PostgreSQL. */
export async function findingSeries(store: Store, w: Window, scope: Scope): Promise<StatsResponse["findings"]> {
  const pg = store.engine === "postgres";
  const elements = pg ? sql<{ value: string }>`jsonb_array_elements(t.findings::jsonb)` : sql<{ value: string }>`json_each(t.findings)`;
  const category = pg ? sql<string>`f.value->>'category'` : sql<string>`json_extract(f.value, '$.category')`;
  const rows = await toolCallRows(store, w, scope)
    .where("t.findings", "!=", "[]")
    .innerJoin(elements.as("f"), (join) => join.onTrue())
    .select([slot(w, "t.ts").as("slot"), category.as("category"), sql<number>`COUNT(*)`.as("n")])
    .groupBy([sql`1`, sql`2`])
    .execute();
  const out = new Map<string, number[]>();
  for (const r of rows) {
    const name = r.category ?? "(none)";
    if (!out.has(name)) out.set(name, zeros(w));
    out.get(name)![slotOf(w, r.slot)]! += r.n;
  }
  const total = (v: number[]) => v.reduce((a, b) => a + b, 0);
  return [...out]
    .sort((a, b) => total(b[1]) - total(a[1]) || a[0].localeCompare(b[0]))
    .slice(0, MAX_SERIES)
    .map(([c, counts]) => ({ category: c, counts }));
}
