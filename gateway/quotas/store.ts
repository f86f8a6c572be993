// Bucket balances in the gateway's SQLite store, so they survive restarts. A reservation checks and debits every bucket
// of a request in one BEGIN IMMEDIATE transaction: it takes SQLite's write lock up front, so processes sharing the file
// on one host serialize, and Kysely's single SQLite connection serializes this process's transactions. In the gateway
// the reservations run where the settlements do, on the request log's writer thread (log-writer/): one connection
// writes, so the request path never waits on SQLite's lock for the log's writes.
import { sql } from "kysely";
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

/** Runs `work` in a BEGIN IMMEDIATE transaction on the store's one SQLite connection. */
export async function immediate<T>(store: Pick<Store, "db">, work: (trx: Executor) => Promise<T>): Promise<T> {
  return store.db.connection().execute(async (conn) => {
    await sql`BEGIN IMMEDIATE`.execute(conn);
    try {
      const value = await work(conn);
      await sql`COMMIT`.execute(conn);
      return value;
    } catch (err) {
      await sql`ROLLBACK`.execute(conn);
      throw err;
    }
  });
}

async function current(db: Executor, charge: Charge, now: number): Promise<BucketState> {
  const row = await db.selectFrom("quota_buckets").selectAll().where("bucket", "=", charge.bucket).executeTakeFirst();
  return refill(row ? toState(row) : freshBucket(charge.def, now), charge.def, now);
}

/** Every line's bucket, refilled to `now`. */
async function states(db: Executor, charges: readonly Charge[], now: number): Promise<Map<string, BucketState>> {
  const out = new Map<string, BucketState>();
  for (const c of charges) out.set(c.bucket, await current(db, c, now));
  return out;
}

async function writeBucket(db: Executor, charge: Charge, state: BucketState): Promise<void> {
  const values = { quota: charge.quota, balance_nanos: state.balance, carry: state.carry, updated_ms: state.updatedMs };
  await db
    .insertInto("quota_buckets")
    .values({ bucket: charge.bucket, ...values })
    .onConflict((oc) => oc.column("bucket").doUpdateSet(values))
    .execute();
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
    const row = { quota: charge.quota, ts: now, reserved_nanos: reserved, charged_nanos: spent, at_reservation: atReservation ? 1 : 0 };
    await db
      .insertInto("quota_charges")
      .values({ request_id: requestId, bucket: charge.bucket, ...row })
      .onConflict((oc) => oc.columns(["request_id", "bucket"]).doUpdateSet(row))
      .execute();
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

  /** Settles on its own (outside a request log transaction). */
  async settle(requestId: string, lines: readonly SettleLine[], charged: number, atReservation: boolean): Promise<void> {
    await immediate(this.store, (db) => settleIn(db, requestId, lines, charged, atReservation, this.now()));
    this.inFlight.settled(reservedPerBucket(lines));
  }

  peek(charge: Charge): Promise<BucketState> {
    return current(this.store.db, charge, this.now());
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
