// Bucket balances in SQLite, so they survive restarts. A reservation checks and debits every bucket of a request in
// one BEGIN IMMEDIATE transaction: better-sqlite3 is synchronous, so within a process nothing interleaves, and
// IMMEDIATE takes SQLite's write lock up front, so processes sharing the file on one host serialize too.
import type { QuotaDefinition } from "../config/quotas.js";
import type { Db } from "../store/db.js";
import { type BucketState, adjust, freshBucket, refill, secondsUntil } from "./buckets.js";

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

/** One concrete bucket a request is charged to, with the quota (config key) that defines it. */
export interface Charge {
  readonly bucket: string;
  readonly quota: string;
  readonly def: QuotaDefinition;
}

export interface BucketShortfall {
  readonly bucket: string;
  readonly quota: string;
  readonly balance: number;
  readonly capacity: number;
  /** Seconds until the refill covers the reservation; null when it never will. */
  readonly retryAfter: number | null;
}

export type ReserveResult = { readonly ok: true } | { readonly ok: false; readonly short: readonly BucketShortfall[] };

export interface SettleEntry extends Charge {
  readonly reserved: number;
  readonly charged: number;
}

export interface StoredBucket extends BucketState {
  readonly bucket: string;
  readonly quota: string;
}

interface Row {
  bucket: string;
  quota: string;
  balance_nanos: number;
  carry: number;
  updated_ms: number;
}

const toState = (r: Row): BucketState => ({ balance: r.balance_nanos, carry: r.carry, updatedMs: r.updated_ms });

export class QuotaStore {
  private readonly select;
  private readonly upsert;
  private readonly insertCharge;
  /** Nanodollars reserved by requests still in flight, per bucket (for display; balances already exclude them). */
  private readonly inFlight = new Map<string, number>();

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

  /**
   * Debits `nanos` from every bucket if each holds at least that much (at least one nanodollar when `nanos` is 0:
   * Aperture's "every bucket must have a positive balance"); otherwise debits nothing and says which fell short.
   */
  reserve(charges: readonly Charge[], nanos: number): ReserveResult {
    const need = Math.max(nanos, 1);
    const run = this.db.transaction((): ReserveResult => {
      const now = this.now();
      const states = charges.map((c) => this.current(c, now));
      const short: BucketShortfall[] = [];
      charges.forEach((c, i) => {
        const state = states[i]!;
        if (state.balance >= need) return;
        short.push({ bucket: c.bucket, quota: c.quota, balance: state.balance, capacity: c.def.capacity, retryAfter: secondsUntil(state, c.def, need) });
      });
      if (short.length > 0) return { ok: false, short };
      charges.forEach((c, i) => this.write(c, adjust(states[i]!, c.def, -nanos)));
      return { ok: true };
    });
    const result = run.immediate();
    if (result.ok) for (const c of charges) this.inFlight.set(c.bucket, (this.inFlight.get(c.bucket) ?? 0) + nanos);
    return result;
  }

  /**
   * Replaces each reservation by the charged amount and records the charge. Meant to run inside the request log's
   * transaction (a RowExtension), so the request row and its charges commit together.
   */
  settle(requestId: string, entries: readonly SettleEntry[], atReservation: boolean): void {
    const run = this.db.transaction(() => {
      const now = this.now();
      for (const e of entries) {
        this.write(e, adjust(this.current(e, now), e.def, e.reserved - e.charged));
        this.insertCharge.run({ requestId, bucket: e.bucket, quota: e.quota, ts: now, reserved: e.reserved, charged: e.charged, atReservation: atReservation ? 1 : 0 });
      }
    });
    run();
    for (const e of entries) {
      const left = (this.inFlight.get(e.bucket) ?? 0) - e.reserved;
      if (left > 0) this.inFlight.set(e.bucket, left);
      else this.inFlight.delete(e.bucket);
    }
  }

  /** The bucket's balance now, without writing (a never-charged bucket is full). */
  peek(charge: Charge): BucketState {
    return this.current(charge, this.now());
  }

  reserved(bucket: string): number {
    return this.inFlight.get(bucket) ?? 0;
  }

  /** Every bucket ever charged, as stored (not refilled). */
  list(): StoredBucket[] {
    return (this.db.prepare("SELECT * FROM quota_buckets ORDER BY bucket").all() as Row[]).map((r) => ({ bucket: r.bucket, quota: r.quota, ...toState(r) }));
  }

  /** Adds `amount` (everything up to capacity when null), never beyond capacity; recorded with who asked. */
  refill(charge: Charge, amount: number | null, principal: string): { before: BucketState; after: BucketState } {
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
}
