// CI sessions, used OIDC token ids, and pending check-run writes (in the outbox: what survives a GitHub outage or a
// restart).
import { type Expression, type SqlBool, sql } from "kysely";
import type { Session } from "../../src/ci-session.js";
import type { Store } from "./db.js";
import { type Backoff, Outbox, type OutboxItem, enqueueOutbox } from "./outbox.js";
import type { SessionRecord } from "./schema.js";

export type { SessionRecord } from "./schema.js";
/** A session's check-run write waiting in the outbox (kind "check_run", keyed by the session id). */
export type PendingWrite = OutboxItem;

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
  private readonly outbox: Outbox;

  constructor(
    store: Store,
    /** This replica, as written in its check-run write claims. */
    owner = "local",
  ) {
    this.db = store.db;
    this.outbox = new Outbox(store, owner);
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
    await enqueueOutbox(this.db, "check_run", [{ key: id }], now, due);
  }

  /** Asks for a check-run write now, cutting short any wait. */
  expedite(id: string, now: number): Promise<void> {
    return this.outbox.expedite("check_run", id, now, now);
  }

  pending(id: string): Promise<PendingWrite | null> {
    return this.outbox.get("check_run", id);
  }

  /**
   * Claims due check-run writes for `leaseMs`: a session's check run has one writer at a time across replicas (the
   * outbox row is the lock), and a claim whose replica died lapses.
   */
  claimDue(now: number, leaseMs: number, limit = 20): Promise<PendingWrite[]> {
    return this.outbox.claim("check_run", now, limit, leaseMs);
  }

  /** Claims one session's pending write (a flush on this replica); false while another replica holds it. */
  claim(id: string, now: number, leaseMs: number): Promise<boolean> {
    return this.outbox.claimKey("check_run", id, now, leaseMs);
  }

  /** The write failed: tried again after the outbox's backoff; returns the delay. */
  pendingFailed(pending: PendingWrite, now: number, backoff: Backoff, error: string, random?: () => number): Promise<number> {
    return this.outbox.retry(pending, now, backoff, { status: null, error }, random);
  }

  /** Given up on: the write stays as a dead letter (new activity asks for a new write). */
  async pendingDead(id: string, now: number, error: string): Promise<void> {
    await this.outbox.dead("check_run", id, now, { attempted: true, status: null, error });
  }

  /** The write is done: drops the pending row (new activity meanwhile is seen by the next scan, which asks again). */
  async pendingDone(id: string): Promise<void> {
    await this.outbox.done("check_run", id);
  }
}
