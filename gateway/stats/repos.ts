// Repositories and their PRs as the CI sessions attribute them: totals per repository and per PR, the commands run
// in them and the guardrail findings, on either engine. With `principal`, only that principal's requests and calls
// count (a user's view), and repositories or PRs they made no request in are left out.
import { sql } from "kysely";
import type { Store } from "../store/db.js";

const LIMIT = 500;

export interface RepoFilter {
  readonly principal?: string;
}

export interface RepoRow {
  readonly repository: string;
  readonly sessions: number;
  readonly prs: number;
  readonly requests: number;
  readonly cost_nanos: number;
  readonly last_started: number;
}

function sessionsWithRequests(store: Store, principal: string | undefined) {
  return store.db.selectFrom("ci_sessions as s").leftJoin("requests as r", (join) => {
    const on = join.onRef("r.session_id", "=", "s.id");
    return principal === undefined ? on : on.on("r.principal", "=", principal);
  });
}

const totals = [
  sql<number>`COUNT(DISTINCT s.id)`.as("sessions"),
  sql<number>`COUNT(r.id)`.as("requests"),
  sql<number>`COALESCE(SUM(r.cost_nanos), 0)`.as("cost_nanos"),
  sql<number>`MAX(s.started_at)`.as("last_started"),
] as const;

export async function repoList(store: Store, f: RepoFilter): Promise<RepoRow[]> {
  return sessionsWithRequests(store, f.principal)
    .select(["s.repository", ...totals, sql<number>`COUNT(DISTINCT s.pr_number)`.as("prs")])
    .groupBy("s.repository")
    .$if(f.principal !== undefined, (q) => q.having(sql`COUNT(r.id)`, ">", 0))
    .orderBy(sql`MAX(s.started_at)`, "desc")
    .orderBy("s.repository")
    .limit(LIMIT)
    .execute();
}

export interface PrRow {
  readonly pr_number: number;
  readonly sessions: number;
  readonly requests: number;
  readonly cost_nanos: number;
  readonly last_started: number;
}

export async function repoPrs(store: Store, repository: string, f: RepoFilter): Promise<PrRow[]> {
  const rows = await sessionsWithRequests(store, f.principal)
    .select(["s.pr_number", ...totals])
    .where("s.repository", "=", repository)
    .where("s.pr_number", "is not", null)
    .groupBy("s.pr_number")
    .$if(f.principal !== undefined, (q) => q.having(sql`COUNT(r.id)`, ">", 0))
    .orderBy(sql`MAX(s.started_at)`, "desc")
    .limit(LIMIT)
    .execute();
  return rows.map((r) => ({ ...r, pr_number: r.pr_number ?? 0 }));
}

/** Tool calls of a repository (or one PR of it), joined through their CI session. */
function repoCalls(store: Store, repository: string, pr: number | undefined, f: RepoFilter) {
  return store.db
    .selectFrom("tool_calls as t")
    .innerJoin("ci_sessions as s", "s.id", "t.session_id")
    .where("s.repository", "=", repository)
    .$if(pr !== undefined, (q) => q.where("s.pr_number", "=", pr ?? 0))
    .$if(f.principal !== undefined, (q) => q.where("t.principal", "=", f.principal ?? ""));
}

/** The shell commands run most often, with how many times each ran and was blocked. */
export async function topCommands(store: Store, repository: string, pr: number | undefined, f: RepoFilter, limit = 20) {
  return repoCalls(store, repository, pr, f)
    .where("t.kind", "=", "shell")
    .where("t.command", "is not", null)
    .select([sql<string>`t.command`.as("command"), sql<number>`COUNT(*)`.as("runs"), sql<number>`SUM(CASE WHEN t.action = 'block' THEN 1 ELSE 0 END)`.as("blocked")])
    .groupBy("t.command")
    .orderBy(sql`2`, "desc")
    .orderBy("t.command")
    .limit(limit)
    .execute();
}

/** Guardrail findings by rule: json_each on SQLite, jsonb on PostgreSQL. */
export async function findingsByRule(store: Store, repository: string, pr: number | undefined, f: RepoFilter, limit = 50) {
  const pg = store.engine === "postgres";
  const elements = pg ? sql<{ value: string }>`jsonb_array_elements(t.findings::jsonb)` : sql<{ value: string }>`json_each(t.findings)`;
  const field = (name: string) => (pg ? sql<string>`f.value->>${sql.lit(name)}` : sql<string>`json_extract(f.value, ${sql.lit(`$.${name}`)})`);
  return repoCalls(store, repository, pr, f)
    .where("t.findings", "!=", "[]")
    .innerJoin(elements.as("f"), (join) => join.onTrue())
    .select([field("ruleId").as("rule"), field("category").as("category"), field("severity").as("severity"), sql<number>`COUNT(*)`.as("count")])
    .groupBy([sql`1`, sql`2`, sql`3`])
    .orderBy(sql`4`, "desc")
    .orderBy(sql`1`)
    .limit(limit)
    .execute();
}
