// Bucket balances in SQLite, so they survive restarts. A reservation checks and debits every bucket of a request in
// one BEGIN IMMEDIATE transaction: better-sqlite3 is synchronous, so within a process nothing interleaves, and
// IMMEDIATE takes SQLite's write lock up front, so processes sharing the file on one host serialize too.
import type { Db } from "../store/db.js";
import type { RowExtension } from "../store/requests.js";
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
} from "./bucket-store.js";
import { type BucketState, adjust, freshBucket, refill } from "./buckets.js";

export type { Charge } from "./bucket-store.js";

export const QUOTAS_SCHEMA = `
CREATE TABLE IF NOT EXISTS quota_buckets (
  bucket TEXT PRIMARY KEY,
  quota TEXT NOT NULL,
  balance_nanos INTEGER NOT NULL,
  carry INTEGER NOT NULL DEFAULT 0,
  updated_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS quota_charges (
  request_id TEXT NOT NULL,
  bucket TEXT NOT NULL,
  quota TEXT NOT NULL,
  ts INTEGER NOT NULL,
  reserved_nanos INTEGER NOT NULL,
  charged_nanos INTEGER NOT NULL,
  at_reservation INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (request_id, bucket)
);
CREATE INDEX IF NOT EXISTS quota_charges_bucket_ts ON quota_charges (bucket, ts);
CREATE TABLE IF NOT EXISTS quota_refills (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  ts INTEGER NOT NULL,
  principal TEXT NOT NULL,
  bucket TEXT NOT NULL,
  amount_nanos INTEGER NOT NULL,
  balance_before INTEGER NOT NULL,
  balance_after INTEGER NOT NULL
);
`;

interface Row {
  bucket: string;
  quota: string;
  balance_nanos: number;
  carry: number;
  updated_ms: number;
}

const toState = (r: Row): BucketState => ({ balance: r.balance_nanos, carry: r.carry, updatedMs: r.updated_ms });

export class QuotaStore implements BucketStore {
  readonly description = "sqlite";
  private readonly select;
  private readonly upsert;
  private readonly insertCharge;
  private readonly inFlight = new InFlight();

  constructor(
    private readonly db: Db,
    private readonly now: () => number = Date.now,
  ) {
    this.select = db.prepare("SELECT * FROM quota_buckets WHERE bucket = ?");
    this.upsert = db.prepare(`INSERT INTO quota_buckets (bucket, quota, balance_nanos, carry, updated_ms)
      VALUES (@bucket, @quota, @balance, @carry, @updatedMs)
      ON CONFLICT (bucket) DO UPDATE SET quota = @quota, balance_nanos = @balance, carry = @carry, updated_ms = @updatedMs`);
    this.insertCharge = db.prepare(`INSERT OR REPLACE INTO quota_charges
      (request_id, bucket, quota, ts, reserved_nanos, charged_nanos, at_reservation)
      VALUES (@requestId, @bucket, @quota, @ts, @reserved, @charged, @atReservation)`);
  }

  private current(charge: Charge, now: number): BucketState {
    const row = this.select.get(charge.bucket) as Row | undefined;
    return refill(row ? toState(row) : freshBucket(charge.def, now), charge.def, now);
  }

  private write(charge: Charge, state: BucketState): void {
    this.upsert.run({ bucket: charge.bucket, quota: charge.quota, balance: state.balance, carry: state.carry, updatedMs: state.updatedMs });
  }

  reserve(lines: readonly Line[], nanos: number): ReserveResult {
    const run = this.db.transaction((): ReserveResult => {
      const now = this.now();
      const { result, states } = planReservation(lines, nanos, (c) => this.current(c, now));
      if (result.ok) for (const c of chargesOf(lines)) this.write(c, states.get(c.bucket)!);
      return result;
    });
    const result = run.immediate();
    if (result.ok) this.inFlight.reserved(lines, result.portions);
    return result;
  }

  /** Runs inside the request log's transaction, so the request row and its charges commit together. */
  settlement(lines: readonly SettleLine[], charged: number, atReservation: boolean): RowExtension {
    return { write: (_db, requestId) => this.settle(requestId, lines, charged, atReservation) };
  }

  /** Replaces each line's reservation by `charged` and records the charge per bucket. */
  settle(requestId: string, lines: readonly SettleLine[], charged: number, atReservation: boolean): void {
    const run = this.db.transaction(() => {
      const now = this.now();
      const { states, charges } = planSettlement(lines, charged, (c) => this.current(c, now));
      for (const { charge, reserved, charged: spent } of charges) {
        this.write(charge, states.get(charge.bucket)!);
        this.insertCharge.run({ requestId, bucket: charge.bucket, quota: charge.quota, ts: now, reserved, charged: spent, atReservation: atReservation ? 1 : 0 });
      }
      return charges;
    });
    this.inFlight.settled(run().map((t) => ({ bucket: t.charge.bucket, reserved: t.reserved })));
  }

  peek(charge: Charge): BucketState {
    return this.current(charge, this.now());
  }

  reserved(bucket: string): number {
    return this.inFlight.get(bucket);
  }

  list(): StoredBucket[] {
    return (this.db.prepare("SELECT * FROM quota_buckets ORDER BY bucket").all() as Row[]).map((r) => ({ bucket: r.bucket, quota: r.quota, ...toState(r) }));
  }

  refill(charge: Charge, amount: number | null, principal: string): RefillResult {
    const run = this.db.transaction(() => {
      const now = this.now();
      const before = this.current(charge, now);
      const after = adjust(before, charge.def, amount ?? Math.max(0, charge.def.capacity - before.balance));
      this.write(charge, after);
      this.db
        .prepare("INSERT INTO quota_refills (ts, principal, bucket, amount_nanos, balance_before, balance_after) VALUES (?, ?, ?, ?, ?, ?)")
        .run(now, principal, charge.bucket, after.balance - before.balance, before.balance, after.balance);
      return { before, after };
    });
    return run.immediate();
  }

  /** The database belongs to the gateway, which closes it. */
  close(): void {}
}
