// The webhook outbox: asynchronous hook events are written in the same transaction as their request and deleted
// once the receiver took them, so a receiver that is down (or a gateway restart) loses nothing. Replicas sharing the
// store claim due messages for a lease (FOR UPDATE SKIP LOCKED on PostgreSQL: two claimers never wait on or take the
// same row), so each message has one delivery in flight at a time; a replica that dies mid-delivery leaves a claim
// that lapses and another replica delivers it.
import { sql } from "kysely";
import type { Store } from "./db.js";
import type { Executor, OutboxRecord } from "./schema.js";

export interface OutboxMessage {
  /** Standard Webhooks message id: the same on every retry, so receivers can deduplicate. */
  readonly msgId: string;
  readonly hook: string;
  readonly event: string;
  readonly payload: string;
}

export interface OutboxRow extends OutboxMessage {
  readonly id: number;
  readonly createdAt: number;
  readonly dueAt: number;
  readonly attempts: number;
}

/** A message given up on, as the API shows it (without its payload). */
export interface DeadLetter {
  readonly id: number;
  readonly msg_id: string;
  readonly hook: string;
  readonly event: string;
  readonly created_at: number;
  readonly dead_at: number;
  readonly attempts: number;
  readonly last_status: number | null;
  readonly last_error: string | null;
}

const toRow = (r: OutboxRecord): OutboxRow => ({
  id: r.id,
  msgId: r.msg_id,
  hook: r.hook,
  event: r.event,
  payload: r.payload,
  createdAt: r.created_at,
  dueAt: r.due_at,
  attempts: r.attempts,
});

/** Queues messages due at once (inside the request's transaction, or on its own). */
export async function insertOutboxMessages(db: Executor, messages: readonly OutboxMessage[], now: number): Promise<void> {
  if (messages.length === 0) return;
  await db
    .insertInto("hook_outbox")
    .values(messages.map((m) => ({ msg_id: m.msgId, hook: m.hook, event: m.event, payload: m.payload, created_at: now, due_at: now })))
    .onConflict((oc) => oc.column("msg_id").doNothing())
    .execute();
}

export class Outbox {
  constructor(
    private readonly store: Store,
    /** This replica, as written in its claims. */
    private readonly owner: string,
  ) {}

  /** Queues messages (a request's are queued with its log row, store/log-writes.ts). */
  enqueue(messages: readonly OutboxMessage[], now: number, db: Executor = this.store.db): Promise<void> {
    return insertOutboxMessages(db, messages, now);
  }

  /** Claims up to `limit` messages due at `now` for `leaseMs`, oldest first; messages claimed elsewhere are skipped. */
  async claim(now: number, limit: number, leaseMs: number): Promise<OutboxRow[]> {
    const pg = this.store.engine === "postgres";
    const rows = await this.store.db
      .updateTable("hook_outbox")
      .set({ claimed_by: this.owner, claimed_until: now + leaseMs })
      .where("id", "in", (eb) =>
        eb
          .selectFrom("hook_outbox")
          .select("id")
          .where("due_at", "<=", now)
          .where("dead_at", "is", null)
          .where((w) => w.or([w("claimed_until", "is", null), w("claimed_until", "<", now)]))
          .orderBy("due_at")
          .orderBy("id")
          .limit(limit)
          .$if(pg, (q) => q.forUpdate().skipLocked()),
      )
      .returningAll()
      .execute();
    return rows.sort((a, b) => a.due_at - b.due_at || a.id - b.id).map(toRow);
  }

  /** When the next message falls due or its claim lapses (epoch ms), or null when nothing is waiting. */
  async nextDue(): Promise<number | null> {
    const row = await this.store.db
      .selectFrom("hook_outbox")
      .select(sql<number | null>`MIN(CASE WHEN claimed_until IS NOT NULL AND claimed_until > due_at THEN claimed_until ELSE due_at END)`.as("due"))
      .where("dead_at", "is", null)
      .executeTakeFirst();
    return row?.due ?? null;
  }

  async delivered(id: number): Promise<void> {
    await this.store.db.deleteFrom("hook_outbox").where("id", "=", id).where("claimed_by", "=", this.owner).execute();
  }

  async retryAt(id: number, dueAt: number, status: number | null, error: string): Promise<void> {
    await this.store.db
      .updateTable("hook_outbox")
      .set((eb) => ({
        attempts: eb("attempts", "+", 1),
        due_at: dueAt,
        last_status: status,
        last_error: error.slice(0, 500),
        claimed_by: null,
        claimed_until: null,
      }))
      .where("id", "=", id)
      .where("claimed_by", "=", this.owner)
      .execute();
  }

  /** Gives a message up (expired, or its hook is gone from the config): it stays as a dead letter. */
  async dead(id: number, now: number, failure: { attempted: boolean; status: number | null; error: string }): Promise<void> {
    const { status, error } = failure;
    await this.store.db
      .updateTable("hook_outbox")
      .set((eb) => ({
        attempts: failure.attempted ? eb("attempts", "+", 1) : eb.ref("attempts"),
        dead_at: now,
        last_status: status,
        last_error: error.slice(0, 500),
        claimed_by: null,
        claimed_until: null,
      }))
      .where("id", "=", id)
      .execute();
  }

  /** Messages still to deliver (dead letters excluded). */
  async pending(): Promise<number> {
    const row = await this.store.db
      .selectFrom("hook_outbox")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("dead_at", "is", null)
      .executeTakeFirstOrThrow();
    return row.n;
  }

  async deadLetters(limit = 100): Promise<DeadLetter[]> {
    const rows = await this.store.db
      .selectFrom("hook_outbox")
      .select(["id", "msg_id", "hook", "event", "created_at", "dead_at", "attempts", "last_status", "last_error"])
      .where("dead_at", "is not", null)
      .orderBy("dead_at", "desc")
      .limit(Math.min(Math.max(limit, 1), 1000))
      .execute();
    return rows.map((r) => ({ ...r, dead_at: r.dead_at ?? 0 }));
  }

  /** Deletes dead letters older than `before`; returns how many. */
  async purgeDead(before: number): Promise<number> {
    const result = await this.store.db.deleteFrom("hook_outbox").where("dead_at", "<", before).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
