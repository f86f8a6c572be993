// What a CI session did, read from the store: requests (totals, models, refusals, errors), tool_calls (commands, MCP,
// guardrail findings), quota_charges (budgets), and the PR's running total.
import type { Db } from "./db.js";
import type { ModelTotals, PrTotals, Totals } from "../../src/ci-session.js";
import { sessionAlerts } from "../quotas/alerts.js";
import type { ReportData } from "../github/render.js";
import type { SessionRecord } from "./sessions.js";


export interface Activity {
  /** Changes whenever the session's report would. */
  readonly marker: string;
  readonly lastAt: number;
}

/** Request count, newest request and token sum per session: cheap, indexed on requests.session_id. */
export function sessionActivity(db: Db, ids: readonly string[]): Map<string, Activity> {
  const out = new Map<string, Activity>();
  if (ids.length === 0) return out;
  const rows = db
    .prepare(
      `SELECT session_id, COUNT(*) AS n, MAX(ts) AS last, SUM(input_tokens + output_tokens) AS tokens
       FROM requests WHERE session_id IN (${ids.map(() => "?").join(",")}) GROUP BY session_id`,
    )
    .all(...ids) as { session_id: string; n: number; last: number; tokens: number }[];
  for (const r of rows) out.set(r.session_id, { marker: `${r.n}:${r.last}:${r.tokens}`, lastAt: r.last });
  return out;
}

const DENIAL_KINDS: Record<string, "policy" | "quota" | "guardrail"> = { quota: "quota", guardrail: "guardrail" };

/** A budget bucket's balance now (nanodollars), or null when no quota defines it any more. */
export type BucketBalance = (bucket: string, quota: string) => number | null;
/** The same from a bucket store that may be a database over the network (quota_store postgres). */
export type BucketBalanceReader = (bucket: string, quota: string) => Promise<number | null>;

/** The report of one session; `session` is left to the caller (it renders the wire form). */
export function sessionReport(db: Db, s: SessionRecord, balance: BucketBalance = () => null): Omit<ReportData, "session"> {
  const t = db
    .prepare(
      `SELECT COUNT(*) AS requests,
         SUM(CASE WHEN denial IS NULL AND (status >= 400 OR error IS NOT NULL) THEN 1 ELSE 0 END) AS errors,
         SUM(CASE WHEN denial IS NOT NULL THEN 1 ELSE 0 END) AS denials,
         SUM(input_tokens) AS input_tokens, SUM(cache_read_tokens) AS cache_read_tokens,
         SUM(cache_write_tokens) AS cache_write_tokens, SUM(output_tokens) AS output_tokens,
         SUM(COALESCE(cost_nanos, 0)) AS cost_nanos,
         SUM(CASE WHEN cost_nanos IS NULL THEN 1 ELSE 0 END) AS unpriced_requests,
         SUM(tool_calls) AS tool_calls
       FROM requests WHERE session_id = ?`,
    )
    .get(s.id) as Record<keyof Totals, number | null>;
  const totals = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, v ?? 0])) as Totals;

  const by_model = db
    .prepare(
      `SELECT provider, model, COUNT(*) AS requests, SUM(input_tokens) AS input_tokens,
         SUM(cache_read_tokens) AS cache_read_tokens, SUM(cache_write_tokens) AS cache_write_tokens,
         SUM(output_tokens) AS output_tokens, SUM(cost_nanos) AS cost_nanos
       FROM requests WHERE session_id = ? AND provider IS NOT NULL AND model IS NOT NULL
       GROUP BY provider, model ORDER BY SUM(COALESCE(cost_nanos, 0)) DESC, provider, model`,
    )
    .all(s.id) as ModelTotals[];

  // Denials are stored as "<category>: <message>" (proxy/record.ts); errors by message, else by status.
  const denials = db
    .prepare(`SELECT denial AS reason, COUNT(*) AS count FROM requests WHERE session_id = ? AND denial IS NOT NULL
      GROUP BY denial ORDER BY COUNT(*) DESC`)
    .all(s.id) as { reason: string; count: number }[];
  const errors = db
    .prepare(`SELECT COALESCE(error, 'HTTP ' || status) AS reason, COUNT(*) AS count FROM requests
      WHERE session_id = ? AND denial IS NULL AND (status >= 400 OR error IS NOT NULL) GROUP BY 1 ORDER BY COUNT(*) DESC`)
    .all(s.id) as { reason: string; count: number }[];
  const problems = [
    ...denials.map((d) => {
      const m = /^([a-z_]+): (.*)$/s.exec(d.reason);
      return { kind: DENIAL_KINDS[m?.[1] ?? ""] ?? ("policy" as const), reason: m?.[2] ?? d.reason, count: d.count };
    }),
    ...errors.map((e) => ({ kind: "error" as const, reason: e.reason, count: e.count })),
  ];

  return {
    totals,
    by_model,
    problems,
    ...toolCalls(db, s.id),
    budgets: budgets(db, s.id, balance),
    budget_alerts: sessionAlerts(db, s.id),
    pr: s.pr_number === null ? null : prTotals(db, s.repository_id, s.pr_number),
  };
}

/** Commands kept in a report (newest first); the rest are counted. */
const COMMAND_LIMIT = 200;
const FINDING_LIMIT = 500;
const SEVERITIES = ["low", "medium", "high", "critical"] as const;

type ToolPart = Pick<ReportData, "tool_calls_by_kind" | "commands" | "commands_omitted" | "mcp" | "findings">;

/** What the session's tool calls were (store/tool-calls.ts rows, nested code-mode calls included). */
function toolCalls(db: Db, sessionId: string): ToolPart {
  const tool_calls_by_kind = db
    .prepare(`SELECT kind, COUNT(*) AS count FROM tool_calls WHERE session_id = ? GROUP BY kind ORDER BY COUNT(*) DESC, kind`)
    .all(sessionId) as { kind: string; count: number }[];
  const shellCount = (db.prepare(`SELECT COUNT(*) AS n FROM tool_calls WHERE session_id = ? AND kind = 'shell' AND command IS NOT NULL`).get(sessionId) as { n: number }).n;
  const commands = (
    db
      .prepare(`SELECT ts, command, action FROM tool_calls WHERE session_id = ? AND kind = 'shell' AND command IS NOT NULL
        ORDER BY ts DESC, id DESC LIMIT ?`)
      .all(sessionId, COMMAND_LIMIT) as { ts: number; command: string; action: string }[]
  ).map((r) => ({ at: new Date(r.ts).toISOString(), command: r.command, blocked: r.action === "block" }));
  const mcp = db
    .prepare(`SELECT mcp_server AS server, mcp_tool AS tool, COUNT(*) AS count FROM tool_calls
      WHERE session_id = ? AND kind = 'mcp' GROUP BY mcp_server, mcp_tool ORDER BY COUNT(*) DESC, mcp_server, mcp_tool`)
    .all(sessionId) as { server: string | null; tool: string | null; count: number }[];
  const findings = (
    db
      .prepare(`SELECT t.ts AS ts, json_extract(f.value, '$.severity') AS severity, json_extract(f.value, '$.ruleId') AS rule,
          json_extract(f.value, '$.action') AS action, COALESCE(json_extract(f.value, '$.command'), t.command, t.name) AS command
        FROM tool_calls t, json_each(t.findings) f WHERE t.session_id = ? AND t.findings != '[]'
        ORDER BY t.ts DESC, t.id DESC LIMIT ?`)
      .all(sessionId, FINDING_LIMIT) as { ts: number; severity: string; rule: string; action: string; command: string }[]
  ).map((f) => ({
    at: new Date(f.ts).toISOString(),
    severity: SEVERITIES.find((s) => s === f.severity) ?? "low",
    rule: String(f.rule),
    action: String(f.action),
    command: String(f.command),
  }));
  return {
    tool_calls_by_kind,
    commands,
    commands_omitted: shellCount - commands.length,
    mcp: mcp.map((m) => ({ server: m.server ?? "(unknown)", tool: m.tool ?? "(unknown)", count: m.count })),
    findings,
  };
}

/** The report with each budget's balance read first; a store that cannot be read leaves it null (unknown). */
export async function sessionReportReading(db: Db, s: SessionRecord, read: BucketBalanceReader): Promise<Omit<ReportData, "session">> {
  const charged = db
    .prepare(`SELECT DISTINCT c.bucket AS bucket, c.quota AS quota FROM quota_charges c JOIN requests r ON r.id = c.request_id WHERE r.session_id = ?`)
    .all(s.id) as { bucket: string; quota: string }[];
  const balances = new Map(await Promise.all(charged.map(async (b) => [b.bucket, await read(b.bucket, b.quota).catch(() => null)] as const)));
  return sessionReport(db, s, (bucket) => balances.get(bucket) ?? null);
}

/** Buckets the session's requests were charged to (quotas/store.ts quota_charges), with what is left in each now. */
function budgets(db: Db, sessionId: string, balance: BucketBalance): ReportData["budgets"] {
  const rows = db
    .prepare(`SELECT c.bucket AS bucket, c.quota AS quota, SUM(c.charged_nanos) AS spent FROM quota_charges c
      JOIN requests r ON r.id = c.request_id WHERE r.session_id = ? GROUP BY c.bucket, c.quota ORDER BY c.bucket`)
    .all(sessionId) as { bucket: string; quota: string; spent: number }[];
  return rows.map((r) => ({ bucket: r.bucket, spent_nanos: r.spent, remaining_nanos: balance(r.bucket, r.quota) }));
}

/** Every session of one PR (across runs and attempts), summed. */
export function prTotals(db: Db, repositoryId: string, prNumber: number): PrTotals {
  const r = db
    .prepare(
      `SELECT (SELECT COUNT(*) FROM ci_sessions WHERE repository_id = @repo AND pr_number = @pr) AS sessions,
         COUNT(r.id) AS requests, COALESCE(SUM(r.input_tokens), 0) AS input_tokens,
         COALESCE(SUM(r.output_tokens), 0) AS output_tokens, COALESCE(SUM(r.cost_nanos), 0) AS cost_nanos
       FROM ci_sessions s JOIN requests r ON r.session_id = s.id
       WHERE s.repository_id = @repo AND s.pr_number = @pr`,
    )
    .get({ repo: repositoryId, pr: prNumber });
  return r as PrTotals;
}

export interface SessionListRow {
  readonly session: SessionRecord;
  readonly requests: number;
  readonly input_tokens: number;
  readonly output_tokens: number;
  readonly cost_nanos: number;
  readonly denials: number;
  readonly flagged_tool_calls: number;
}

type ListTotals = Record<"n_requests" | "n_input" | "n_output" | "n_cost" | "n_denials" | "n_flagged", number>;

/**
 * Sessions newest first with their request totals. With `principal`, only sessions that principal made requests in,
 * totalled over that principal's requests alone.
 */
export function sessionList(db: Db, filter: { readonly principal?: string; readonly limit: number }): SessionListRow[] {
  const rows = db
    .prepare(
      `SELECT s.*, COUNT(r.id) AS n_requests, COALESCE(SUM(r.input_tokens), 0) AS n_input,
         COALESCE(SUM(r.output_tokens), 0) AS n_output, COALESCE(SUM(r.cost_nanos), 0) AS n_cost,
         COALESCE(SUM(r.denial IS NOT NULL), 0) AS n_denials,
         (SELECT COUNT(*) FROM tool_calls t WHERE t.session_id = s.id AND t.action != 'log'
           AND (@principal IS NULL OR t.principal = @principal)) AS n_flagged
       FROM ci_sessions s LEFT JOIN requests r ON r.session_id = s.id AND (@principal IS NULL OR r.principal = @principal)
       GROUP BY s.id HAVING @principal IS NULL OR COUNT(r.id) > 0
       ORDER BY s.started_at DESC, s.id DESC LIMIT @limit`,
    )
    .all({ principal: filter.principal ?? null, limit: filter.limit }) as (SessionRecord & ListTotals)[];
  return rows.map(({ n_requests, n_input, n_output, n_cost, n_denials, n_flagged, ...session }) => ({
    session,
    requests: n_requests,
    input_tokens: n_input,
    output_tokens: n_output,
    cost_nanos: n_cost,
    denials: n_denials,
    flagged_tool_calls: n_flagged,
  }));
}
