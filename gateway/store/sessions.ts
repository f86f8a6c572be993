// CI sessions, used OIDC token ids, and pending check-run writes (what survives a GitHub outage or a restart).
import type { Db } from "./db.js";
import type { Session } from "../../src/ci-session.js";


export const CI_SESSIONS_SCHEMA = `
CREATE TABLE IF NOT EXISTS ci_sessions (
  id TEXT PRIMARY KEY,
  node_id TEXT NOT NULL,
  repository TEXT NOT NULL,
  repository_id TEXT NOT NULL,
  owner TEXT NOT NULL,
  owner_id TEXT NOT NULL,
  pr_number INTEGER,
  head_sha TEXT,
  sha TEXT NOT NULL,
  run_id TEXT NOT NULL,
  run_attempt TEXT NOT NULL,
  workflow TEXT NOT NULL,
  job TEXT,
  actor TEXT NOT NULL,
  event TEXT NOT NULL,
  ref TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  finished_at INTEGER,
  finish_reason TEXT,
  check_run_id INTEGER,
  check_run_url TEXT,
  -- Activity marker and time of the last successful check-run write; completed once the final state is written.
  check_marker TEXT,
  check_sent_at INTEGER,
  check_completed INTEGER NOT NULL DEFAULT 0,
  -- sha256 of the session token (runners off the tailnet); never the token itself.
  token_hash TEXT,
  token_expires_at INTEGER
);
CREATE INDEX IF NOT EXISTS ci_sessions_node ON ci_sessions (node_id, started_at);
CREATE INDEX IF NOT EXISTS ci_sessions_pr ON ci_sessions (repository_id, pr_number) WHERE pr_number IS NOT NULL;
CREATE INDEX IF NOT EXISTS ci_sessions_open ON ci_sessions (finished_at, check_completed);
CREATE UNIQUE INDEX IF NOT EXISTS ci_sessions_token ON ci_sessions (token_hash) WHERE token_hash IS NOT NULL;
CREATE TABLE IF NOT EXISTS ci_oidc_jti (
  jti TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS ci_check_pending (
  session_id TEXT PRIMARY KEY REFERENCES ci_sessions (id) ON DELETE CASCADE,
  due_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  since INTEGER NOT NULL
);
`;

export interface SessionRecord {
  readonly id: string;
  readonly node_id: string;
  readonly repository: string;
  readonly repository_id: string;
  readonly owner: string;
  readonly owner_id: string;
  readonly pr_number: number | null;
  readonly head_sha: string | null;
  readonly sha: string;
  readonly run_id: string;
  readonly run_attempt: string;
  readonly workflow: string;
  readonly job: string | null;
  readonly actor: string;
  readonly event: string;
  readonly ref: string;
  /** Epoch milliseconds. */
  readonly started_at: number;
  readonly finished_at: number | null;
  readonly finish_reason: "finished" | "idle" | null;
  readonly check_run_id: number | null;
  readonly check_run_url: string | null;
  readonly check_marker: string | null;
  readonly check_sent_at: number | null;
  readonly check_completed: number;
  readonly token_hash: string | null;
  readonly token_expires_at: number | null;
}

export type NewSession = Omit<
  SessionRecord,
  "finished_at" | "finish_reason" | "check_run_id" | "check_run_url" | "check_marker" | "check_sent_at" | "check_completed"
>;

export interface PendingWrite {
  readonly session_id: string;
  readonly due_at: number;
  readonly attempts: number;
  readonly last_error: string | null;
  readonly since: number;
}

export interface SessionQuery {
  readonly repository?: string;
  readonly prNumber?: number;
  readonly open?: boolean;
  readonly limit?: number;
}

export function toWire(r: SessionRecord): Session {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    id: r.id,
    node_id: r.node_id,
    repository: r.repository,
    repository_id: r.repository_id,
    owner: r.owner,
    owner_id: r.owner_id,
    pr_number: r.pr_number,
    head_sha: r.head_sha,
    sha: r.sha,
    run_id: r.run_id,
    run_attempt: r.run_attempt,
    workflow: r.workflow,
    job: r.job,
    actor: r.actor,
    event: r.event,
    ref: r.ref,
    started_at: new Date(r.started_at).toISOString(),
    finished_at: iso(r.finished_at),
    finish_reason: r.finish_reason,
    check_run_id: r.check_run_id,
    check_run_url: r.check_run_url,
  };
}

export class SessionStore {
  private readonly q;

  constructor(private readonly db: Db) {
    this.q = {
      insert: db.prepare(`INSERT INTO ci_sessions (id, node_id, repository, repository_id, owner, owner_id, pr_number,
        head_sha, sha, run_id, run_attempt, workflow, job, actor, event, ref, started_at, token_hash, token_expires_at)
        VALUES (@id, @node_id, @repository, @repository_id, @owner, @owner_id, @pr_number, @head_sha, @sha, @run_id,
        @run_attempt, @workflow, @job, @actor, @event, @ref, @started_at, @token_hash, @token_expires_at)`),
      get: db.prepare(`SELECT * FROM ci_sessions WHERE id = ?`),
      openForJob: db.prepare(`SELECT * FROM ci_sessions WHERE node_id = ? AND repository_id = ? AND run_id = ?
        AND run_attempt = ? AND finished_at IS NULL ORDER BY started_at DESC LIMIT 1`),
      // An idle-closed session keeps its node's later requests: the job may only have been slow.
      forNode: db.prepare(`SELECT * FROM ci_sessions WHERE node_id = ? AND (finished_at IS NULL OR finish_reason = 'idle')
        ORDER BY started_at DESC LIMIT 1`),
      byToken: db.prepare(`SELECT * FROM ci_sessions WHERE token_hash = ?`),
      finish: db.prepare(`UPDATE ci_sessions SET finished_at = @at, finish_reason = @reason, check_completed = 0,
        token_expires_at = CASE WHEN @reason = 'finished' AND token_hash IS NOT NULL THEN @at ELSE token_expires_at END
        WHERE id = @id AND (finished_at IS NULL OR (finish_reason = 'idle' AND @reason = 'finished'))`),
      setCheckRun: db.prepare(`UPDATE ci_sessions SET check_run_id = ?, check_run_url = ? WHERE id = ?`),
      checkSent: db.prepare(`UPDATE ci_sessions SET check_marker = @marker, check_sent_at = @at,
        check_completed = @completed WHERE id = @id`),
      // Sessions whose check run may still change: open, finished but not yet written, or finished recently (requests
      // still in flight at finish are logged after it; an idle-closed job may only have been slow).
      live: db.prepare(`SELECT * FROM ci_sessions WHERE finished_at IS NULL OR check_completed = 0 OR finished_at >= ?`),
      jtiInsert: db.prepare(`INSERT OR IGNORE INTO ci_oidc_jti (jti, expires_at) VALUES (?, ?)`),
      jtiPurge: db.prepare(`DELETE FROM ci_oidc_jti WHERE expires_at < ?`),
      pendingInsert: db.prepare(`INSERT OR IGNORE INTO ci_check_pending (session_id, due_at, since) VALUES (@id, @due, @now)`),
      pendingExpedite: db.prepare(`INSERT INTO ci_check_pending (session_id, due_at, since) VALUES (@id, @now, @now)
        ON CONFLICT (session_id) DO UPDATE SET due_at = MIN(due_at, @now)`),
      pendingDue: db.prepare(`SELECT * FROM ci_check_pending WHERE due_at <= ? ORDER BY due_at LIMIT ?`),
      pendingGet: db.prepare(`SELECT * FROM ci_check_pending WHERE session_id = ?`),
      pendingFail: db.prepare(`UPDATE ci_check_pending SET attempts = attempts + 1, due_at = @due, last_error = @error
        WHERE session_id = @id`),
      pendingDelete: db.prepare(`DELETE FROM ci_check_pending WHERE session_id = ?`),
    };
  }

  insert(s: NewSession): SessionRecord {
    this.q.insert.run(s);
    return this.get(s.id)!;
  }

  get(id: string): SessionRecord | null {
    return (this.q.get.get(id) as SessionRecord | undefined) ?? null;
  }

  /** The open session of this job on this node, if the Action asks twice. */
  openForJob(nodeId: string, repositoryId: string, runId: string, runAttempt: string): SessionRecord | null {
    return (this.q.openForJob.get(nodeId, repositoryId, runId, runAttempt) as SessionRecord | undefined) ?? null;
  }

  /** The session a node's requests belong to. */
  forNode(nodeId: string): SessionRecord | null {
    return (this.q.forNode.get(nodeId) as SessionRecord | undefined) ?? null;
  }

  byTokenHash(hash: string): SessionRecord | null {
    return (this.q.byToken.get(hash) as SessionRecord | undefined) ?? null;
  }

  /** Marks a session finished. "finished" also overrides an earlier idle close. Returns false if nothing changed. */
  finish(id: string, reason: "finished" | "idle", at: number): boolean {
    return this.q.finish.run({ id, reason, at }).changes > 0;
  }

  setCheckRun(id: string, checkRunId: number, url: string | null): void {
    this.q.setCheckRun.run(checkRunId, url, id);
  }

  checkSent(id: string, marker: string, at: number, completed: boolean): void {
    this.q.checkSent.run({ id, marker, at, completed: completed ? 1 : 0 });
  }

  /** Sessions whose check run may still change; finished ones only if finished since `recentSince`. */
  live(recentSince: number): SessionRecord[] {
    return this.q.live.all(recentSince) as SessionRecord[];
  }

  list(query: SessionQuery = {}): SessionRecord[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (query.repository !== undefined) {
      where.push("lower(repository) = lower(?)");
      args.push(query.repository);
    }
    if (query.prNumber !== undefined) {
      where.push("pr_number = ?");
      args.push(query.prNumber);
    }
    if (query.open !== undefined) where.push(query.open ? "finished_at IS NULL" : "finished_at IS NOT NULL");
    const sql = `SELECT * FROM ci_sessions ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
      ORDER BY started_at DESC LIMIT ?`;
    return this.db.prepare(sql).all(...args, query.limit ?? 100) as SessionRecord[];
  }

  /** Records a token id; false when it was already there. Expired ids are purged on the way. */
  claimJti(jti: string, expiresAt: number, now: number): boolean {
    this.q.jtiPurge.run(now);
    return this.q.jtiInsert.run(jti, expiresAt).changes > 0;
  }

  /** Asks for a check-run write at `due`, unless one is already pending (which keeps its time and backoff). */
  markPending(id: string, due: number, now: number): void {
    this.q.pendingInsert.run({ id, due, now });
  }

  /** Asks for a check-run write now, cutting short any wait. */
  expedite(id: string, now: number): void {
    this.q.pendingExpedite.run({ id, now });
  }

  pending(id: string): PendingWrite | null {
    return (this.q.pendingGet.get(id) as PendingWrite | undefined) ?? null;
  }

  duePending(now: number, limit = 20): PendingWrite[] {
    return this.q.pendingDue.all(now, limit) as PendingWrite[];
  }

  pendingFailed(id: string, due: number, error: string): void {
    this.q.pendingFail.run({ id, due, error });
  }

  pendingDone(id: string): void {
    this.q.pendingDelete.run(id);
  }
}
