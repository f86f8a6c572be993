// Secrets found in traffic: one row per secret and place, with the rule and a fingerprint, never the secret
// (table secret_findings, migration 0003).
import { sql } from "kysely";
import type { Store } from "./db.js";
import type { Executor } from "./schema.js";

export interface SecretFindingRecord {
  readonly ruleId: string;
  readonly fingerprint: string;
  readonly verified: boolean | null;
  /** tool_result, system, message, tool_call (in the request), or response (a tool call the model returned). */
  readonly place: string;
  readonly callId: string | null;
  /** What was done: log, flag, redact, block. */
  readonly action: string;
}

/** Inserts one request's findings (inside the request's transaction). */
export async function insertSecretFindings(
  db: Executor,
  requestId: string,
  ctx: { ts: number; principal: string; sessionId: string | null },
  records: readonly SecretFindingRecord[],
): Promise<void> {
  if (records.length === 0) return;
  await db
    .insertInto("secret_findings")
    .values(
      records.map((r) => ({
        request_id: requestId,
        ts: ctx.ts,
        principal: ctx.principal,
        session_id: ctx.sessionId,
        rule_id: r.ruleId,
        fingerprint: r.fingerprint,
        verified: r.verified === null ? null : r.verified ? 1 : 0,
        place: r.place,
        call_id: r.callId,
        action: r.action,
      })),
    )
    .execute();
}

export interface SecretRuleSummary {
  readonly rule: string;
  /** Newest finding (epoch ms). */
  readonly lastTs: number;
  /** Distinct secrets (fingerprints) this rule found in the session, a few of them shown. */
  readonly secrets: number;
  readonly fingerprints: readonly string[];
  /** Requests they were found in, and where in the traffic. */
  readonly requests: number;
  readonly places: readonly string[];
  /** The strongest action taken. */
  readonly action: string;
  readonly verified: boolean;
}

const FINGERPRINTS_SHOWN = 3;
const ACTION_RANK = sql<number>`MAX(CASE action WHEN 'block' THEN 3 WHEN 'redact' THEN 2 WHEN 'flag' THEN 1 ELSE 0 END)`;

/** A session's secret findings by rule (for the check run): counts, places and fingerprints, never a secret. */
export async function sessionSecretSummary(store: Store, sessionId: string): Promise<SecretRuleSummary[]> {
  const rows = await store.db
    .selectFrom("secret_findings")
    .where("session_id", "=", sessionId)
    .select([
      "rule_id",
      (eb) => eb.fn.max("ts").as("last_ts"),
      sql<number>`COUNT(DISTINCT fingerprint)`.as("secrets"),
      sql<number>`COUNT(DISTINCT request_id)`.as("requests"),
      ACTION_RANK.as("rank"),
      sql<number>`MAX(COALESCE(verified, 0))`.as("verified"),
    ])
    .groupBy("rule_id")
    .orderBy(ACTION_RANK, "desc")
    .orderBy(sql`COUNT(DISTINCT fingerprint)`, "desc")
    .orderBy("rule_id")
    .execute();
  const out: SecretRuleSummary[] = [];
  for (const r of rows) {
    const of = store.db.selectFrom("secret_findings").where("session_id", "=", sessionId).where("rule_id", "=", r.rule_id);
    const fingerprints = await of.select("fingerprint").distinct().orderBy("fingerprint").limit(FINGERPRINTS_SHOWN).execute();
    const places = await of.select("place").distinct().orderBy("place").execute();
    out.push({
      rule: r.rule_id,
      lastTs: Number(r.last_ts),
      secrets: Number(r.secrets),
      fingerprints: fingerprints.map((f) => f.fingerprint),
      requests: Number(r.requests),
      places: places.map((p) => p.place),
      action: ["log", "flag", "redact", "block"][Number(r.rank)] ?? "log",
      verified: Number(r.verified) === 1,
    });
  }
  return out;
}
