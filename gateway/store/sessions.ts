// CI sessions, used OIDC token ids, and pending check-run writes (what survives a GitHub outage or a restart).
import { type Expression, type SqlBool, sql } from "kysely";
import type { Session } from "../../src/ci-session.js";
import type { Store } from "./db.js";
import type { PendingWrite, SessionRecord } from "./schema.js";

export type { PendingWrite, SessionRecord } from "./schema.js";

export type NewSession = Omit<
  SessionRecord,
  "finished_at" | "finish_reason" | "check_run_id" | "check_run_url" | "check_marker" | "check_sent_at" | "check_completed"
>;

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
  private readonly db;

  constructor(
    private readonly store: Store,
    /** This replica, as written in its check-run write claims. */
    private readonly owner = "local",
  ) {
    this.db = store.db;
  }

  async insert(s: NewSession): Promise<SessionRecord> {
    await this.db.insertInto("ci_sessions").values(s).execute();
    return (await this.get(s.id))!;
  }

  async get(id: string): Promise<SessionRecord | null> {
    return (await this.db.selectFrom("ci_sessions").selectAll().where("id", "=", id).executeTakeFirst()) ?? null;
  }

  /** The open session of this job on this node, if the Action asks twice. */
  async openForJob(nodeId: string, repositoryId: string, runId: string, runAttempt: string): Promise<SessionRecord | null> {
    const row = await this.db
      .selectFrom("ci_sessions")
      .selectAll()
      .where("node_id", "=", nodeId)
      .where("repository_id", "=", repositoryId)
      .where("run_id", "=", runId)
      .where("run_attempt", "=", runAttempt)
      .where("finished_at", "is", null)
      .orderBy("started_at", "desc")
      .limit(1)
      .executeTakeFirst();
    return row ?? null;
  }

  /** The session a node's requests belong to. An idle-closed session keeps them: the job may only have been slow. */
  async forNode(nodeId: string): Promise<SessionRecord | null> {
    const row = await this.db
      .selectFrom("ci_sessions")
      .selectAll()
      .where("node_id", "=", nodeId)
      .where((eb) => eb.or([eb("finished_at", "is", null), eb("finish_reason", "=", "idle")]))
      .orderBy("started_at", "desc")
      .limit(1)
      .executeTakeFirst();
    return row ?? null;
  }

  async byTokenHash(hash: string): Promise<SessionRecord | null> {
    return (await this.db.selectFrom("ci_sessions").selectAll().where("token_hash", "=", hash).executeTakeFirst()) ?? null;
  }

  /** Sessions whose token is still valid at `now` (the token index every replica keeps). */
  tokenSessions(now: number): Promise<SessionRecord[]> {
    return this.db.selectFrom("ci_sessions").selectAll().where("token_hash", "is not", null).where("token_expires_at", ">", now).execute();
  }

  /** Marks a session finished. "finished" also overrides an earlier idle close. Returns false if nothing changed. */
  async finish(id: string, reason: "finished" | "idle", at: number): Promise<boolean> {
    const result = await this.db
      .updateTable("ci_sessions")
      .set({
        finished_at: at,
        finish_reason: reason,
        check_completed: 0,
        token_expires_at: reason === "finished" ? sql<number | null>`CASE WHEN token_hash IS NOT NULL THEN ${at} ELSE token_expires_at END` : sql<number | null>`token_expires_at`,
      })
      .where("id", "=", id)
      .where((eb) =>
        eb.or([eb("finished_at", "is", null), ...(reason === "finished" ? [eb("finish_reason", "=", "idle")] : [])]),
      )
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async setCheckRun(id: string, checkRunId: number, url: string | null): Promise<void> {
    await this.db.updateTable("ci_sessions").set({ check_run_id: checkRunId, check_run_url: url }).where("id", "=", id).execute();
  }

  async checkSent(id: string, marker: string, at: number, completed: boolean): Promise<void> {
    await this.db
      .updateTable("ci_sessions")
      .set({ check_marker: marker, check_sent_at: at, check_completed: completed ? 1 : 0 })
      .where("id", "=", id)
      .execute();
  }

  /**
   * Sessions whose check run may still change: open, finished but not yet written, or finished since `recentSince`
   * (requests still in flight at finish are logged after it; an idle-closed job may only have been slow).
   */
  live(recentSince: number): Promise<SessionRecord[]> {
    return this.db
      .selectFrom("ci_sessions")
      .selectAll()
      .where((eb) => eb.or([eb("finished_at", "is", null), eb("check_completed", "=", 0), eb("finished_at", ">=", recentSince)]))
      .execute();
  }

  list(query: SessionQuery = {}): Promise<SessionRecord[]> {
    return this.db
      .selectFrom("ci_sessions")
      .selectAll()
      .where(({ eb, and }) => {
        const where: Expression<SqlBool>[] = [];
        if (query.repository !== undefined) where.push(eb(eb.fn("lower", ["repository"]), "=", query.repository.toLowerCase()));
        if (query.prNumber !== undefined) where.push(eb("pr_number", "=", query.prNumber));
        if (query.open !== undefined) where.push(eb("finished_at", query.open ? "is" : "is not", null));
        return and(where);
      })
      .orderBy("started_at", "desc")
      .limit(query.limit ?? 100)
      .execute();
  }

  /** Records a token id; false when it was already there. Expired ids are purged on the way. */
  async claimJti(jti: string, expiresAt: number, now: number): Promise<boolean> {
    await this.db.deleteFrom("ci_oidc_jti").where("expires_at", "<", now).execute();
    const result = await this.db
      .insertInto("ci_oidc_jti")
      .values({ jti, expires_at: expiresAt })
      .onConflict((oc) => oc.column("jti").doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  /** Asks for a check-run write at `due`, unless one is already pending (which keeps its time and backoff). */
  async markPending(id: string, due: number, now: number): Promise<void> {
    await this.db
      .insertInto("ci_check_pending")
      .values({ session_id: id, due_at: due, since: now })
      .onConflict((oc) => oc.column("session_id").doNothing())
      .execute();
  }

  /** Asks for a check-run write now, cutting short any wait. */
  async expedite(id: string, now: number): Promise<void> {
    await this.db
      .insertInto("ci_check_pending")
      .values({ session_id: id, due_at: now, since: now })
      .onConflict((oc) => oc.column("session_id").doUpdateSet({ due_at: sql<number>`CASE WHEN ci_check_pending.due_at < ${now} THEN ci_check_pending.due_at ELSE ${now} END` }))
      .execute();
  }

  async pending(id: string): Promise<PendingWrite | null> {
    return (await this.db.selectFrom("ci_check_pending").selectAll().where("session_id", "=", id).executeTakeFirst()) ?? null;
  }

  /**
   * Claims due check-run writes for `leaseMs`: a session's check run has one writer at a time across replicas (FOR
   * UPDATE SKIP LOCKED on PostgreSQL), and a claim whose replica died lapses.
   */
  async claimDue(now: number, leaseMs: number, limit = 20): Promise<PendingWrite[]> {
    const pg = this.store.engine === "postgres";
    const rows = await this.db
      .updateTable("ci_check_pending")
      .set({ claimed_by: this.owner, claimed_until: now + leaseMs })
      .where("session_id", "in", (eb) =>
        eb
          .selectFrom("ci_check_pending")
          .select("session_id")
          .where("due_at", "<=", now)
          .where((w) => w.or([w("claimed_until", "is", null), w("claimed_until", "<", now)]))
          .orderBy("due_at")
          .limit(limit)
          .$if(pg, (q) => q.forUpdate().skipLocked()),
      )
      .returningAll()
      .execute();
    return rows.sort((a, b) => a.due_at - b.due_at);
  }

  /** Claims one session's pending write (a flush on this replica); false while another replica holds it. */
  async claim(id: string, now: number, leaseMs: number): Promise<boolean> {
    const result = await this.db
      .updateTable("ci_check_pending")
      .set({ claimed_by: this.owner, claimed_until: now + leaseMs })
      .where("session_id", "=", id)
      .where((w) => w.or([w("claimed_until", "is", null), w("claimed_until", "<", now), w("claimed_by", "=", this.owner)]))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async pendingFailed(id: string, due: number, error: string): Promise<void> {
    await this.db
      .updateTable("ci_check_pending")
      .set((eb) => ({ attempts: eb("attempts", "+", 1), due_at: due, last_error: error, claimed_by: null, claimed_until: null }))
      .where("session_id", "=", id)
      .execute();
  }

  /** The write is done: drops the pending row, unless new activity asked for another write meanwhile (then releases it). */
  async pendingDone(id: string): Promise<void> {
    await this.db.deleteFrom("ci_check_pending").where("session_id", "=", id).execute();
  }

  /** Gives a claim back without writing (the session is not ours to write yet). */
  async release(id: string): Promise<void> {
    await this.db
      .updateTable("ci_check_pending")
      .set({ claimed_by: null, claimed_until: null })
      .where("session_id", "=", id)
      .where("claimed_by", "=", this.owner)
      .execute();
  }
}
