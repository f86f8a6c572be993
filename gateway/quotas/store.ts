// Bucket balances in the gateway's SQLite store, so they survive restarts. A reservation checks and debits every bucket
// of a request in one BEGIN IMMEDIATE transaction: it takes SQLite's write lock up front, so processes sharing the file
// on one host serialize, and Kysely's single SQLite connection serializes this process's transactions. In the gateway
// the reservations run where the settlements do, on the request log's writer thread (log-writer/): one connection
// writes, so the request path never waits on SQLite's lock for the log's writes.
import { CompiledQuery } from "kysely";
import type { Store } from "../store/db.js";
import type { RowExtension } from "../store/requests.js";
import type { BucketRecord, Executor } from "../store/schema.js";
import {
  type BucketStore,
  type Charge,
  InFlight,
  type Line,
  type RefillResult,
  type ReserveResult,
  type SettleLine,
  type StoredBucket,
  chargesOf,
  planReservation,
  planSettlement,
  reservedPerBucket,
} from "./bucket-store.js";
import { type BucketState, adjust, freshBucket, refill } from "./buckets.js";

export type { Charge } from "./bucket-store.js";

const toState = (r: BucketRecord): BucketState => ({ balance: r.balance_nanos, carry: r.carry, updatedMs: r.updated_ms });

// The statements of every reservation and settlement, written out once: building them through Kysely's query builder
// for each request cost more CPU than SQLite took to run them (this store is SQLite's alone).
const BEGIN = CompiledQuery.raw("BEGIN IMMEDIATE");
const COMMIT = CompiledQuery.raw("COMMIT");
const ROLLBACK = CompiledQuery.raw("ROLLBACK");
const SELECT_BUCKET = "SELECT bucket, quota, balance_nanos, carry, updated_ms FROM quota_buckets WHERE bucket = ?";
const UPSERT_BUCKET =
  "INSERT INTO quota_buckets (bucket, quota, balance_nanos, carry, updated_ms) VALUES (?, ?, ?, ?, ?) " +
  "ON CONFLICT (bucket) DO UPDATE SET quota = excluded.quota, balance_nanos = excluded.balance_nanos, carry = excluded.carry, updated_ms = excluded.updated_ms";
const UPSERT_CHARGE =
  "INSERT INTO quota_charges (request_id, bucket, quota, ts, reserved_nanos, charged_nanos, at_reservation) VALUES (?, ?, ?, ?, ?, ?, ?) " +
  "ON CONFLICT (request_id, bucket) DO UPDATE SET quota = excluded.quota, ts = excluded.ts, reserved_nanos = excluded.reserved_nanos, " +
  "charged_nanos = excluded.charged_nanos, at_reservation = excluded.at_reservation";

/** Runs `work` in a BEGIN IMMEDIATE transaction on the store's one SQLite connection. */
export async function immediate<T>(store: Pick<Store, "db">, work: (trx: Executor) => Promise<T>): Promise<T> {
  return store.db.connection().execute(async (conn) => {
    await conn.executeQuery(BEGIN);
    try {
      const value = await work(conn);
      await conn.executeQuery(COMMIT);
      return value;
    } catch (err) {
      await conn.executeQuery(ROLLBACK);
      throw err;
    }
  });
}

async function current(db: Executor, charge: Charge, now: number): Promise<BucketState> {
  const { rows } = await db.executeQuery<BucketRecord>(CompiledQuery.raw(SELECT_BUCKET, [charge.bucket]));
  const row = rows[0];
  return refill(row ? toState(row) : freshBucket(charge.def, now), charge.def, now);
}

/** Every line's bucket, refilled to `now`. */
async function states(db: Executor, charges: readonly Charge[], now: number): Promise<Map<string, BucketState>> {
  const out = new Map<string, BucketState>();
  for (const c of charges) out.set(c.bucket, await current(db, c, now));
  return out;
}

async function writeBucket(db: Executor, charge: Charge, state: BucketState): Promise<void> {
  await db.executeQuery(CompiledQuery.raw(UPSERT_BUCKET, [charge.bucket, charge.quota, state.balance, state.carry, state.updatedMs]));
}

/**
 * Replaces each line's reservation by `charged` and records the charge per bucket, inside the caller's transaction
 * (the request log's writer, which may be a worker thread with its own connection).
 */
export async function settleIn(db: Executor, requestId: string, lines: readonly SettleLine[], charged: number, atReservation: boolean, now: number): Promise<void> {
  const known = await states(db, chargesOf(lines.map((l) => l.line)), now);
  const planned = planSettlement(lines, charged, (c) => known.get(c.bucket)!);
  for (const { charge, reserved, charged: spent } of planned.charges) {
    await writeBucket(db, charge, planned.states.get(charge.bucket)!);
    await db.executeQuery(CompiledQuery.raw(UPSERT_CHARGE, [requestId, charge.bucket, charge.quota, now, reserved, spent, atReservation ? 1 : 0]));
  }
}

/** Checks and debits every line's buckets at `now`, or none (one BEGIN IMMEDIATE transaction). */
export function reserveIn(store: Pick<Store, "db">, lines: readonly Line[], nanos: number, now: number): Promise<ReserveResult> {
  return immediate(store, async (db) => {
    const known = await states(db, chargesOf(lines), now);
    const planned = planReservation(lines, nanos, (c) => known.get(c.bucket)!);
    if (planned.result.ok) for (const c of chargesOf(lines)) await writeBucket(db, c, planned.states.get(c.bucket)!);
    return planned.result;
  });
}

/** Reserves elsewhere (the log's writer thread, which owns the writing connection). */
export type Reserver = (lines: readonly Line[], nanos: number) => Promise<ReserveResult>;

export class QuotaStore implements BucketStore {
  readonly description = "sqlite";
  private readonly inFlight = new InFlight();

  constructor(
    private readonly store: Store,
    private readonly now: () => number = Date.now,
    private readonly reserver?: Reserver,
  ) {}

  async reserve(lines: readonly Line[], nanos: number): Promise<ReserveResult> {
    const result = this.reserver ? await this.reserver(lines, nanos) : await reserveIn(this.store, lines, nanos, this.now());
    if (result.ok) this.inFlight.reserved(lines, result.portions);
    return result;
  }

  /** Written with the request's log row (by the log's writer, in its transaction), so the row and its charges commit together. */
  settlement(lines: readonly SettleLine[], charged: number, atReservation: boolean): RowExtension {
    return {
      rows: () => ({ kind: "quota_settlement", lines, charged, atReservation }),
      committed: () => this.inFlight.settled(reservedPerBucket(lines)),
    };
  }

  /** Settled in the log row's transaction: once that has committed, `peek` reads it. */
  applied(): void {}

  /** Settles on its own (outside a request log transaction). */
  async settle(requestId: string, lines: readonly SettleLine[], charged: number, atReservation: boolean): Promise<void> {
    await immediate(this.store, (db) => settleIn(db, requestId, lines, charged, atReservation, this.now()));
    this.inFlight.settled(reservedPerBucket(lines));
  }

  /** Built by Kysely, unlike the reservation's statements, so it reads either engine's buckets (tests peek through it). */
  async peek(charge: Charge): Promise<BucketState> {
    const now = this.now();
    const row = await this.store.db.selectFrom("quota_buckets").selectAll().where("bucket", "=", charge.bucket).executeTakeFirst();
    return refill(row ? toState(row) : freshBucket(charge.def, now), charge.def, now);
  }

  reserved(bucket: string): number {
    return this.inFlight.get(bucket);
  }

  async list(): Promise<StoredBucket[]> {
    const rows = await this.store.db.selectFrom("quota_buckets").selectAll().orderBy("bucket").execute();
    return rows.map((r) => ({ bucket: r.bucket, quota: r.quota, ...toState(r) }));
  }

  refill(charge: Charge, amount: number | null, principal: string): Promise<RefillResult> {
    return immediate(this.store, async (db) => {
      const now = this.now();
      const before = await current(db, charge, now);
      const after = adjust(before, charge.def, amount ?? Math.max(0, charge.def.capacity - before.balance));
      await writeBucket(db, charge, after);
      await db
        .insertInto("quota_refills")
        .values({ ts: now, principal, bucket: charge.bucket, amount_nanos: after.balance - before.balance, balance_before: before.balance, balance_after: after.balance })
        .execute();
      return { before, after };
    });
  }

  /** The store belongs to the gateway, which closes it. */
  close(): void {}
}
