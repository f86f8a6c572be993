// What a CI session did, read from the store: requests (totals, models, refusals, errors), tool_calls (commands, MCP,
// guardrail findings), quota_charges (budgets), and the PR's running total.
import { sql } from "kysely";
import type { Store } from "./db.js";
import type { BudgetAlert, ModelTotals, PrTotals, ReportData, Totals } from "../../src/ci-session.js";
import type { SessionRecord } from "./sessions.js";
import { sessionSecretSummary } from "./secret-findings.js";


export interface Activity {
  /** Changes whenever the session's report would. */
  readonly marker: string;
  readonly lastAt: number;
}

/** Request count, newest request and token sum per session: cheap, indexed on requests.session_id. */
export async function sessionActivity(store: Store, ids: readonly string[]): Promise<Map<string, Activity>> {
  const out = new Map<string, Activity>();
  if (ids.length === 0) return out;
  const rows = await store.db
    .selectFrom("requests")
    .select((eb) => [
      "session_id",
      eb.fn.countAll<number>().as("n"),
      eb.fn.max("ts").as("last"),
      eb.fn.sum<number>(eb("input_tokens", "+", eb.ref("output_tokens"))).as("tokens"),
    ])
    .where("session_id", "in", [...ids])
    .groupBy("session_id")
    .execute();
  for (const r of rows) out.set(r.session_id ?? "", { marker: `${r.n}:${r.last}:${r.tokens}`, lastAt: r.last });
  return out;
}

const DENIAL_KINDS: Record<string, "policy" | "quota" | "guardrail"> = { quota: "quota", guardrail: "guardrail" };

/** A budget bucket's balance now (nanodollars), or null when no quota defines it any more. */
export type BucketBalance = (bucket: string, quota: string) => number | null;
/** The same from a bucket store that may be a database over the network (quota_store postgres). */
export type BucketBalanceReader = (bucket: string, quota: string) => Promise<number | null>;

const count = sql<number>`COUNT(*)`;

/** The report of one session; `session` is left to the caller (it renders the wire form). */
export async function sessionReport(store: Store, s: SessionRecord, balance: BucketBalance = () => null): Promise<Omit<ReportData, "session">> {
  return {
    totals: await sessionTotals(store, s.id),
    by_model: await modelTotals(store, s.id),
    problems: await sessionProblems(store, s.id),
    ...(await toolCalls(store, s.id)),
    budgets: await budgets(store, s.id, balance),
    budget_alerts: await sessionAlerts(store, s.id),
    pr: s.pr_number === null ? null : await prTotals(store, s.repository_id, s.pr_number),
  };
}

async function sessionTotals({ db }: Store, sessionId: string): Promise<Totals> {
  const t = await db
    .selectFrom("requests")
    .select([
      count.as("requests"),
      sql<number | null>`SUM(CASE WHEN denial IS NULL AND (status >= 400 OR error IS NOT NULL) THEN 1 ELSE 0 END)`.as("errors"),
      sql<number | null>`SUM(CASE WHEN denial IS NOT NULL THEN 1 ELSE 0 END)`.as("denials"),
      sql<number | null>`SUM(input_tokens)`.as("input_tokens"),
      sql<number | null>`SUM(cache_read_tokens)`.as("cache_read_tokens"),
      sql<number | null>`SUM(cache_write_tokens)`.as("cache_write_tokens"),
      sql<number | null>`SUM(output_tokens)`.as("output_tokens"),
      sql<number | null>`SUM(COALESCE(cost_nanos, 0))`.as("cost_nanos"),
      sql<number | null>`SUM(CASE WHEN cost_nanos IS NULL THEN 1 ELSE 0 END)`.as("unpriced_requests"),
      sql<number | null>`SUM(tool_calls)`.as("tool_calls"),
    ])
    .where("session_id", "=", sessionId)
    .executeTakeFirstOrThrow();
  return Object.fromEntries(Object.entries(t).map(([k, v]) => [k, v ?? 0])) as Totals;
}

async function modelTotals({ db }: Store, sessionId: string): Promise<ModelTotals[]> {
  return (
    await db
      .selectFrom("requests")
      .select([
        "provider",
        "model",
        count.as("requests"),
        sql<number>`SUM(input_tokens)`.as("input_tokens"),
        sql<number>`SUM(cache_read_tokens)`.as("cache_read_tokens"),
        sql<number>`SUM(cache_write_tokens)`.as("cache_write_tokens"),
        sql<number>`SUM(output_tokens)`.as("output_tokens"),
        sql<number | null>`SUM(cost_nanos)`.as("cost_nanos"),
      ])
      .where("session_id", "=", sessionId)
      .where("provider", "is not", null)
      .where("model", "is not", null)
      .groupBy(["provider", "model"])
      .orderBy(sql`SUM(COALESCE(cost_nanos, 0))`, "desc")
      .orderBy("provider")
      .orderBy("model")
      .execute()
  ).map((r) => ({ ...r, provider: r.provider ?? "", model: r.model ?? "" }));
}

async function sessionProblems({ db }: Store, sessionId: string): Promise<ReportData["problems"]> {
  // Denials are stored as "<category>: <message>" (proxy/record.ts); errors by message, else by status. Most frequent
  // first, ties in the order they first happened (both engines then agree).
  const denials = await db
    .selectFrom("requests")
    .select([sql<string>`denial`.as("reason"), count.as("count")])
    .where("session_id", "=", sessionId)
    .where("denial", "is not", null)
    .groupBy("denial")
    .orderBy(count, "desc")
    .orderBy(sql`MIN(ts)`)
    .execute();
  const errors = await db
    .selectFrom("requests")
    .select([sql<string>`COALESCE(error, 'HTTP ' || status)`.as("reason"), count.as("count")])
    .where("session_id", "=", sessionId)
    .where("denial", "is", null)
    .where((eb) => eb.or([eb("status", ">=", 400), eb("error", "is not", null)]))
    .groupBy(sql`COALESCE(error, 'HTTP ' || status)`)
    .orderBy(count, "desc")
    .orderBy(sql`MIN(ts)`)
    .execute();
  return [
    ...denials.map((d) => {
      const m = /^([a-z_]+): (.*)$/s.exec(d.reason);
      return { kind: DENIAL_KINDS[m?.[1] ?? ""] ?? ("policy" as const), reason: m?.[2] ?? d.reason, count: d.count };
    }),
    ...errors.map((e) => ({ kind: "error" as const, reason: e.reason, count: e.count })),
  ];
}

/** Commands kept in a report (newest first); the rest are counted. */
const COMMAND_LIMIT = 200;
const FINDING_LIMIT = 500;
const SEVERITIES = ["low", "medium", "high", "critical"] as const;

type ToolPart = Pick<ReportData, "tool_calls_by_kind" | "commands" | "commands_omitted" | "mcp" | "findings">;

interface FindingRow {
  ts: number;
  severity: string | null;
  rule: string | null;
  action: string | null;
  command: string | null;
}

/** Each finding of a session's tool calls, newest first: json_each on SQLite, jsonb on PostgreSQL. */
function findingsOf(store: Store, sessionId: string) {
  const q =
    store.engine === "postgres"
      ? sql<FindingRow>`SELECT t.ts AS ts, f->>'severity' AS severity, f->>'ruleId' AS rule, f->>'action' AS action,
          COALESCE(f->>'command', t.command, t.name) AS command
        FROM tool_calls t, jsonb_array_elements(t.findings::jsonb) f WHERE t.session_id = ${sessionId} AND t.findings != '[]'
        ORDER BY t.ts DESC, t.id DESC LIMIT ${FINDING_LIMIT}`
      : sql<FindingRow>`SELECT t.ts AS ts, json_extract(f.value, '$.severity') AS severity, json_extract(f.value, '$.ruleId') AS rule,
          json_extract(f.value, '$.action') AS action, COALESCE(json_extract(f.value, '$.command'), t.command, t.name) AS command
        FROM tool_calls t, json_each(t.findings) f WHERE t.session_id = ${sessionId} AND t.findings != '[]'
        ORDER BY t.ts DESC, t.id DESC LIMIT ${FINDING_LIMIT}`;
  return q.execute(store.db);
}

/** What the session's tool calls were (store/tool-calls.ts rows, nested code-mode calls included). */
async function toolCalls(store: Store, sessionId: string): Promise<ToolPart> {
  const { db } = store;
  const calls = db.selectFrom("tool_calls").where("session_id", "=", sessionId);
  const tool_calls_by_kind = await calls.select(["kind", count.as("count")]).groupBy("kind").orderBy(count, "desc").orderBy("kind").execute();
  const shell = calls.where("kind", "=", "shell").where("command", "is not", null);
  const { n: shellCount } = await shell.select(count.as("n")).executeTakeFirstOrThrow();
  const commands = (
    await shell.select(["ts", "command", "action"]).orderBy("ts", "desc").orderBy("id", "desc").limit(COMMAND_LIMIT).execute()
  ).map((r) => ({ at: new Date(r.ts).toISOString(), command: r.command ?? "", blocked: r.action === "block" }));
  const mcp = await calls
    .where("kind", "=", "mcp")
    .select(["mcp_server", "mcp_tool", count.as("count")])
    .groupBy(["mcp_server", "mcp_tool"])
    .orderBy(count, "desc")
    .orderBy("mcp_server")
    .orderBy("mcp_tool")
    .execute();
  const findings = (await findingsOf(store, sessionId)).rows.map((f) => ({
    at: new Date(f.ts).toISOString(),
    severity: SEVERITIES.find((s) => s === f.severity) ?? "low",
    rule: String(f.rule),
    action: String(f.action),
    command: String(f.command),
  }));
  // Secrets in traffic, one line per rule: how many, where, fingerprints; never the secret.
  const secrets = (await sessionSecretSummary(store, sessionId)).map((r) => ({
    at: new Date(r.lastTs).toISOString(),
    severity: r.verified ? ("critical" as const) : ("high" as const),
    rule: r.rule,
    action: r.action,
    command: `${r.secrets} secret${r.secrets === 1 ? "" : "s"}${r.verified ? " (checksum verified)" : ""} in ${r.places.join(", ").replaceAll("_", " ")} of ${r.requests} request${r.requests === 1 ? "" : "s"}; fingerprints ${r.fingerprints.join(", ")}${r.secrets > r.fingerprints.length ? ", …" : ""}`,
  }));
  return {
    tool_calls_by_kind,
    commands,
    commands_omitted: shellCount - commands.length,
    mcp: mcp.map((m) => ({ server: m.mcp_server ?? "(unknown)", tool: m.mcp_tool ?? "(unknown)", count: m.count })),
    findings: [...secrets, ...findings],
  };
}

/** The report with each budget's balance read first; a store that cannot be read leaves it null (unknown). */
export async function sessionReportReading(store: Store, s: SessionRecord, read: BucketBalanceReader): Promise<Omit<ReportData, "session">> {
  const charged = await store.db
    .selectFrom("quota_charges as c")
    .innerJoin("requests as r", "r.id", "c.request_id")
    .select(["c.bucket", "c.quota"])
    .distinct()
    .where("r.session_id", "=", s.id)
    .execute();
  const balances = new Map(await Promise.all(charged.map(async (b) => [b.bucket, await read(b.bucket, b.quota).catch(() => null)] as const)));
  return sessionReport(store, s, (bucket) => balances.get(bucket) ?? null);
}

/** Buckets the session's requests were charged to (quotas/store.ts quota_charges), with what is left in each now. */
async function budgets(store: Store, sessionId: string, balance: BucketBalance): Promise<ReportData["budgets"]> {
  const rows = await store.db
    .selectFrom("quota_charges as c")
    .innerJoin("requests as r", "r.id", "c.request_id")
    .select(["c.bucket", "c.quota", sql<number>`SUM(c.charged_nanos)`.as("spent")])
    .where("r.session_id", "=", sessionId)
    .groupBy(["c.bucket", "c.quota"])
    .orderBy("c.bucket")
    .execute();
  return rows.map((r) => ({ bucket: r.bucket, spent_nanos: r.spent, remaining_nanos: balance(r.bucket, r.quota) }));
}

/** Every session of one PR (across runs and attempts), summed. */
export async function prTotals(store: Store, repositoryId: string, prNumber: number): Promise<PrTotals> {
  const { db } = store;
  return db
    .selectFrom("ci_sessions as s")
    .innerJoin("requests as r", "r.session_id", "s.id")
    .select([
      db
        .selectFrom("ci_sessions")
        .select(count.as("n"))
        .where("repository_id", "=", repositoryId)
        .where("pr_number", "=", prNumber)
        .as("sessions"),
      sql<number>`COUNT(r.id)`.as("requests"),
      sql<number>`COALESCE(SUM(r.input_tokens), 0)`.as("input_tokens"),
      sql<number>`COALESCE(SUM(r.output_tokens), 0)`.as("output_tokens"),
      sql<number>`COALESCE(SUM(r.cost_nanos), 0)`.as("cost_nanos"),
    ])
    .where("s.repository_id", "=", repositoryId)
    .where("s.pr_number", "=", prNumber)
    .executeTakeFirstOrThrow()
    .then((r) => ({ ...r, sessions: r.sessions ?? 0 }));
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

/**
 * Sessions newest first with their request totals. With `principal`, only sessions that principal made requests in,
 * totalled over that principal's requests alone.
 */
export async function sessionList(
  store: Store,
  filter: { readonly principal?: string; readonly repository?: string; readonly pr?: number; readonly limit: number },
): Promise<SessionListRow[]> {
  const { principal } = filter;
  const rows = await store.db
    .selectFrom("ci_sessions as s")
    .leftJoin("requests as r", (join) => {
      const on = join.onRef("r.session_id", "=", "s.id");
      return principal === undefined ? on : on.on("r.principal", "=", principal);
    })
    .selectAll("s")
    .select((eb) => [
      sql<number>`COUNT(r.id)`.as("n_requests"),
      sql<number>`COALESCE(SUM(r.input_tokens), 0)`.as("n_input"),
      sql<number>`COALESCE(SUM(r.output_tokens), 0)`.as("n_output"),
      sql<number>`COALESCE(SUM(r.cost_nanos), 0)`.as("n_cost"),
      sql<number>`COALESCE(SUM(CASE WHEN r.denial IS NOT NULL THEN 1 ELSE 0 END), 0)`.as("n_denials"),
      eb
        .selectFrom("tool_calls as t")
        .select(count.as("n"))
        .whereRef("t.session_id", "=", "s.id")
        .where("t.action", "!=", "log")
        .$if(principal !== undefined, (q) => q.where("t.principal", "=", principal ?? ""))
        .as("n_flagged"),
    ])
    .$if(filter.repository !== undefined, (q) => q.where("s.repository", "=", filter.repository ?? ""))
    .$if(filter.pr !== undefined, (q) => q.where("s.pr_number", "=", filter.pr ?? 0))
    .groupBy("s.id")
    .$if(principal !== undefined, (q) => q.having(sql`COUNT(r.id)`, ">", 0))
    .orderBy("s.started_at", "desc")
    .orderBy("s.id", "desc")
    .limit(filter.limit)
    .execute();
  return rows.map(({ n_requests, n_input, n_output, n_cost, n_denials, n_flagged, ...session }) => ({
    session,
    requests: n_requests,
    input_tokens: n_input,
    output_tokens: n_output,
    cost_nanos: n_cost,
    denials: n_denials,
    flagged_tool_calls: n_flagged ?? 0,
  }));
}

/** Alert thresholds the session's requests crossed (webhooks/budget-alerts.ts), oldest first. */
async function sessionAlerts(store: Store, sessionId: string): Promise<BudgetAlert[]> {
  const rows = await store.db
    .selectFrom("budget_alerts")
    .select(["bucket", "threshold", "spent_nanos", "capacity_nanos", "ts"])
    .where("session_id", "=", sessionId)
    .orderBy("ts")
    .orderBy("id")
    .execute();
  return rows.map((r) => ({ bucket: r.bucket, threshold_percent: r.threshold, spent_nanos: r.spent_nanos, capacity_nanos: r.capacity_nanos, at: new Date(r.ts).toISOString() }));
}
