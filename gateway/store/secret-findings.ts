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

/** A session's secret findings by rule (for the check run): counts, places and fingerprints, never a secret. */
export function sessionSecretSummary(db: Db, sessionId: string): SecretRuleSummary[] {
  const rows = db
    .prepare(`SELECT rule_id AS rule, MAX(ts) AS last_ts, COUNT(DISTINCT fingerprint) AS secrets, COUNT(DISTINCT request_id) AS requests,
        GROUP_CONCAT(DISTINCT place) AS places,
        MAX(CASE action WHEN 'block' THEN 3 WHEN 'redact' THEN 2 WHEN 'flag' THEN 1 ELSE 0 END) AS rank,
        MAX(COALESCE(verified, 0)) AS verified
      FROM secret_findings WHERE session_id = ? GROUP BY rule_id ORDER BY rank DESC, secrets DESC, rule_id`)
    .all(sessionId) as { rule: string; last_ts: number; secrets: number; requests: number; places: string; rank: number; verified: number }[];
  const prints = db.prepare(`SELECT DISTINCT fingerprint FROM secret_findings WHERE session_id = ? AND rule_id = ? ORDER BY fingerprint LIMIT ?`);
  return rows.map((r) => ({
    rule: r.rule,
    lastTs: r.last_ts,
    secrets: r.secrets,
    fingerprints: (prints.all(sessionId, r.rule, FINGERPRINTS_SHOWN) as { fingerprint: string }[]).map((f) => f.fingerprint),
    requests: r.requests,
    places: r.places.split(","),
    action: ["log", "flag", "redact", "block"][r.rank] ?? "log",
    verified: r.verified === 1,
  }));
}
