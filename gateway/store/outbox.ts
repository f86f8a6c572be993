// The one durable outbox (issue 15): webhook messages, check-run writes and quota settlements, each an item of its kind
// under a key, unique per (kind, key). Items are written in the same transaction as what caused them where there is
// one (a request's log row), so a restart or an outage loses nothing. Replicas sharing the store claim due items for a
// lease (FOR UPDATE SKIP LOCKED on PostgreSQL: two claimers never wait on or take the same row), so an item has one
// worker at a time and a replica that dies mid-work leaves a claim that lapses. A failure is retried after
// `backoffMs` (every kind the same function, its own base and cap); an item given up on stays as a dead letter, visible
// in the API, until retention purges it.
import { sql } from "kysely";
import type { Store } from "./db.js";
import type { Executor, OutboxKind, OutboxRecord } from "./schema.js";

export type { OutboxKind } from "./schema.js";

export interface NewOutboxItem {
  readonly key: string;
  readonly hook?: string;
  readonly event?: string;
  readonly payload?: string;
}

export interface OutboxItem {
  readonly id: number;
  readonly kind: OutboxKind;
  readonly key: string;
  readonly hook: string | null;
  readonly event: string | null;
  readonly payload: string;
  readonly createdAt: number;
  readonly dueAt: number;
  readonly attempts: number;
  readonly lastError: string | null;
  /** Set once the item was given up (a dead letter). */
  readonly deadAt: number | null;
}

/** A webhook message as the hooks build it. */
export interface OutboxMessage {
  /** Standard Webhooks message id: the same on every retry, so receivers can deduplicate. */
  readonly msgId: string;
  readonly hook: string;
  readonly event: string;
  readonly payload: string;
}

export const webhookItem = (m: OutboxMessage): NewOutboxItem => ({ key: m.msgId, hook: m.hook, event: m.event, payload: m.payload });

/** An item given up on, as the API shows it (without its payload). */
export interface DeadLetter {
  readonly id: number;
  readonly kind: OutboxKind;
  readonly key: string;
  readonly hook: string | null;
  readonly event: string | null;
  readonly created_at: number;
  readonly dead_at: number;
  readonly attempts: number;
  readonly last_status: number | null;
  readonly last_error: string | null;
}

export interface Failure {
  readonly status: number | null;
  readonly error: string;
}

/** Retry delays of one kind: `baseMs` after the first failure, doubling up to `maxMs`. */
export interface Backoff {
  readonly baseMs: number;
  readonly maxMs: number;
}

/** The delay before attempt `attempts + 1`: exponential, capped, ±20 % so items failing together do not retry in lockstep. */
export function backoffMs(attempts: number, backoff: Backoff, random: () => number): number {
  const base = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.min(attempts, 30));
  return Math.round(base * (0.8 + 0.4 * random()));
}

const toItem = (r: OutboxRecord): OutboxItem => ({
  id: r.id,
  kind: r.kind,
  key: r.key,
  hook: r.hook,
  event: r.event,
  payload: r.payload,
  createdAt: r.created_at,
  dueAt: r.due_at,
  attempts: r.attempts,
  lastError: r.last_error,
  deadAt: r.dead_at,
});

const MAX_ERROR = 500;

/**
 * Queues items due at `dueAt` (inside a caller's transaction, or on its own). An item already waiting under its key
 * keeps its time and backoff; a dead letter under the key is replaced by the new item.
 */
export async function enqueueOutbox(db: Executor, kind: OutboxKind, items: readonly NewOutboxItem[], now: number, dueAt = now): Promise<void> {
  // One row per key: PostgreSQL refuses an upsert that touches a row twice.
  const unique = [...new Map(items.map((i) => [i.key, i])).values()];
  if (unique.length === 0) return;
  await db
    .insertInto("outbox")
    .values(unique.map((i) => ({ kind, key: i.key, hook: i.hook ?? null, event: i.event ?? null, payload: i.payload ?? "", created_at: now, due_at: dueAt })))
    .onConflict((oc) =>
      oc
        .columns(["kind", "key"])
        .doUpdateSet((eb) => ({
          hook: eb.ref("excluded.hook"),
          event: eb.ref("excluded.event"),
          payload: eb.ref("excluded.payload"),
          created_at: eb.ref("excluded.created_at"),
          due_at: eb.ref("excluded.due_at"),
          attempts: 0,
          last_status: null,
          last_error: null,
          claimed_by: null,
          claimed_until: null,
          dead_at: null,
        }))
        .where("outbox.dead_at", "is not", null),
    )
    .execute();
}

export class Outbox {
  constructor(
    private readonly store: Store,
    /** This replica, as written in its claims. */
    private readonly owner: string,
  ) {}

  enqueue(kind: OutboxKind, items: readonly NewOutboxItem[], now: number, db: Executor = this.store.db): Promise<void> {
    return enqueueOutbox(db, kind, items, now);
  }

  /** Asks for an item due at `dueAt`: queued if absent (or dead), brought earlier if it waits for later. */
  async expedite(kind: OutboxKind, key: string, dueAt: number, now: number): Promise<void> {
    await this.store.db
      .insertInto("outbox")
      .values({ kind, key, created_at: now, due_at: dueAt })
      .onConflict((oc) =>
        oc.columns(["kind", "key"]).doUpdateSet({
          due_at: sql<number>`CASE WHEN outbox.dead_at IS NULL AND outbox.due_at < ${dueAt} THEN outbox.due_at ELSE ${dueAt} END`,
          created_at: sql<number>`CASE WHEN outbox.dead_at IS NULL THEN outbox.created_at ELSE ${now} END`,
          attempts: sql<number>`CASE WHEN outbox.dead_at IS NULL THEN outbox.attempts ELSE 0 END`,
          dead_at: null,
        }),
      )
      .execute();
  }

  async get(kind: OutboxKind, key: string): Promise<OutboxItem | null> {
    const row = await this.store.db.selectFrom("outbox").selectAll().where("kind", "=", kind).where("key", "=", key).executeTakeFirst();
    return row ? toItem(row) : null;
  }

  /** Claims up to `limit` items of a kind due at `now` for `leaseMs`, oldest first; items claimed elsewhere are skipped. */
  async claim(kind: OutboxKind, now: number, limit: number, leaseMs: number): Promise<OutboxItem[]> {
    const pg = this.store.engine === "postgres";
    const rows = await this.store.db
      .updateTable("outbox")
      .set({ claimed_by: this.owner, claimed_until: now + leaseMs })
      .where("id", "in", (eb) =>
        eb
          .selectFrom("outbox")
          .select("id")
          .where("kind", "=", kind)
          .where("dead_at", "is", null)
          .where("due_at", "<=", now)
          .where((w) => w.or([w("claimed_until", "is", null), w("claimed_until", "<", now)]))
          .orderBy("due_at")
          .orderBy("id")
          .limit(limit)
          .$if(pg, (q) => q.forUpdate().skipLocked()),
      )
      .returningAll()
      .execute();
    return rows.sort((a, b) => a.due_at - b.due_at || a.id - b.id).map(toItem);
  }

  /** Claims one key whether due or not (or renews this replica's claim); false while another replica holds it. */
  async claimKey(kind: OutboxKind, key: string, now: number, leaseMs: number): Promise<boolean> {
    const result = await this.store.db
      .updateTable("outbox")
      .set({ claimed_by: this.owner, claimed_until: now + leaseMs })
      .where("kind", "=", kind)
      .where("key", "=", key)
      .where("dead_at", "is", null)
      .where((w) => w.or([w("claimed_until", "is", null), w("claimed_until", "<", now), w("claimed_by", "=", this.owner)]))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** When the next item of a kind falls due or its claim lapses (epoch ms), or null when none is waiting. */
  async nextDue(kind: OutboxKind): Promise<number | null> {
    const row = await this.store.db
      .selectFrom("outbox")
      .select(sql<number | null>`MIN(CASE WHEN claimed_until IS NOT NULL AND claimed_until > due_at THEN claimed_until ELSE due_at END)`.as("due"))
      .where("kind", "=", kind)
      .where("dead_at", "is", null)
      .executeTakeFirst();
    return row?.due ?? null;
  }

  /** The item is done: deleted, if this replica still holds its claim (`db`: inside the caller's transaction). */
  async done(kind: OutboxKind, key: string, db: Executor = this.store.db): Promise<boolean> {
    const result = await db.deleteFrom("outbox").where("kind", "=", kind).where("key", "=", key).where("claimed_by", "=", this.owner).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  /** Schedules the next attempt after `backoffMs` and gives the claim back; returns the delay. */
  async retry(item: OutboxItem, now: number, backoff: Backoff, failure: Failure, random: () => number = Math.random): Promise<number> {
    const delay = backoffMs(item.attempts, backoff, random);
    await this.store.db
      .updateTable("outbox")
      .set((eb) => ({
        attempts: eb("attempts", "+", 1),
        due_at: now + delay,
        last_status: failure.status,
        last_error: failure.error.slice(0, MAX_ERROR),
        claimed_by: null,
        claimed_until: null,
      }))
      .where("kind", "=", item.kind)
      .where("key", "=", item.key)
      .where("claimed_by", "=", this.owner)
      .execute();
    return delay;
  }

  /** Gives an item up: it stays as a dead letter. `attempted`: this failure was an attempt (counted). */
  async dead(kind: OutboxKind, key: string, now: number, failure: Failure & { attempted: boolean }): Promise<void> {
    await this.store.db
      .updateTable("outbox")
      .set((eb) => ({
        attempts: failure.attempted ? eb("attempts", "+", 1) : eb.ref("attempts"),
        dead_at: now,
        last_status: failure.status,
        last_error: failure.error.slice(0, MAX_ERROR),
        claimed_by: null,
        claimed_until: null,
      }))
      .where("kind", "=", kind)
      .where("key", "=", key)
      .where("claimed_by", "=", this.owner)
      .execute();
  }

  /** Gives a claim back without an attempt. */
  async release(kind: OutboxKind, key: string): Promise<void> {
    await this.store.db
      .updateTable("outbox")
      .set({ claimed_by: null, claimed_until: null })
      .where("kind", "=", kind)
      .where("key", "=", key)
      .where("claimed_by", "=", this.owner)
      .execute();
  }

  /** Items still to do (dead letters excluded), of one kind or all. */
  async pending(kind?: OutboxKind): Promise<number> {
    let query = this.store.db
      .selectFrom("outbox")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("dead_at", "is", null);
    if (kind !== undefined) query = query.where("kind", "=", kind);
    const row = await query.executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Dead letters of every kind, newest first. */
  async deadLetters(limit = 100): Promise<DeadLetter[]> {
    const rows = await this.store.db
      .selectFrom("outbox")
      .select(["id", "kind", "key", "hook", "event", "created_at", "dead_at", "attempts", "last_status", "last_error"])
      .where("dead_at", "is not", null)
      .orderBy("dead_at", "desc")
      .orderBy("id", "desc")
      .limit(Math.min(Math.max(Math.trunc(limit), 1), 1000))
      .execute();
    return rows.map((r) => ({ ...r, dead_at: r.dead_at ?? 0 }));
  }

  /** Deletes dead letters older than `before`; returns how many. */
  async purgeDead(before: number): Promise<number> {
    const result = await this.store.db.deleteFrom("outbox").where("dead_at", "<", before).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
