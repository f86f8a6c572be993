// Secrets found in traffic: one row per secret and place, with the rule and a fingerprint, never the secret.
import type { Db } from "./db.js";

export const SECRET_FINDINGS_SCHEMA = `
CREATE TABLE IF NOT EXISTS secret_findings (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  request_id TEXT NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
  ts INTEGER NOT NULL,
  principal TEXT NOT NULL,
  session_id TEXT,
  rule_id TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  verified INTEGER,
  place TEXT NOT NULL,
  call_id TEXT,
  action TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS secret_findings_request ON secret_findings (request_id);
CREATE INDEX IF NOT EXISTS secret_findings_session ON secret_findings (session_id) WHERE session_id IS NOT NULL;
`;

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

export function insertSecretFindings(
  db: Db,
  requestId: string,
  ctx: { ts: number; principal: string; sessionId: string | null },
  records: readonly SecretFindingRecord[],
): void {
  const insert = db.prepare(`INSERT INTO secret_findings (request_id, ts, principal, session_id, rule_id, fingerprint, verified,
    place, call_id, action) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  for (const r of records) {
    insert.run(requestId, ctx.ts, ctx.principal, ctx.sessionId, r.ruleId, r.fingerprint, r.verified === null ? null : r.verified ? 1 : 0, r.place, r.callId, r.action);
  }
}

export interface SecretRuleSummary {
  readonly rule: string;
  /** Distinct secrets (fingerprints) this rule found in the session. */
  readonly secrets: number;
  /** Requests they were found in. */
  readonly requests: number;
  /** The strongest action taken. */
  readonly action: string;
  readonly verified: boolean;
}

/** A session's secret findings by rule (for the check run): counts and fingerprints only. */
export function sessionSecretSummary(db: Db, sessionId: string): SecretRuleSummary[] {
  const rows = db
    .prepare(`SELECT rule_id AS rule, COUNT(DISTINCT fingerprint) AS secrets, COUNT(DISTINCT request_id) AS requests,
        MAX(CASE action WHEN 'block' THEN 3 WHEN 'redact' THEN 2 WHEN 'flag' THEN 1 ELSE 0 END) AS rank,
        MAX(COALESCE(verified, 0)) AS verified
      FROM secret_findings WHERE session_id = ? GROUP BY rule_id ORDER BY rank DESC, secrets DESC, rule_id`)
    .all(sessionId) as { rule: string; secrets: number; requests: number; rank: number; verified: number }[];
  return rows.map((r) => ({ rule: r.rule, secrets: r.secrets, requests: r.requests, action: ["log", "flag", "redact", "block"][r.rank] ?? "log", verified: r.verified === 1 }));
}
