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

/**
 * What one quota reference charges: a single bucket, or an overdraft chain (spend the first, borrow what it cannot
 * cover from the next, in order; the last may go negative). A request's lines are charged in parallel.
 */
export type Line = readonly Charge[];

export interface BucketShortfall {
  /** The bucket, or the chain as "a → b". */
  readonly bucket: string;
  readonly quota: string;
  /** For a chain: what the chain could still lend (the positive balances). */
  readonly balance: number;
  readonly capacity: number;
  /** Seconds until the refill covers the reservation; null when it never will. */
  readonly retryAfter: number | null;
}

/** `portions[i][j]`: nanodollars reserved from bucket j of line i. */
export type ReserveResult = { readonly ok: true; readonly portions: readonly (readonly number[])[] } | { readonly ok: false; readonly short: readonly BucketShortfall[] };

export interface SettleLine {
  readonly line: Line;
  readonly portions: readonly number[];
}

export interface StoredBucket extends BucketState {
  readonly bucket: string;
  readonly quota: string;
}

/**
 * Splits `amount` along a chain with the given balances: each bucket but the last gives what it has (never below
 * zero), the last gives the rest.
 */
export function splitAlong(balances: readonly number[], amount: number): number[] {
  let remaining = amount;
  return balances.map((balance, i) => {
    const take = i === balances.length - 1 ? remaining : Math.min(Math.max(0, balance), remaining);
    remaining -= take;
    return take;
  });
}

interface Row {
  bucket: string;
  quota: string;
  balance_nanos: number;
  carry: number;
  updated_ms: number;
}

const toState = (r: Row): BucketState => ({ balance: r.balance_nanos, carry: r.carry, updatedMs: r.updated_ms });

/** Why a line cannot cover `need`, and when its refill will (counting one bucket's refill at a time: an upper bound). */
function shortfall(line: Line, states: readonly BucketState[], available: number, need: number): BucketShortfall {
  if (line.length === 1) {
    const [c] = line;
    return { bucket: c!.bucket, quota: c!.quota, balance: states[0]!.balance, capacity: c!.def.capacity, retryAfter: secondsUntil(states[0]!, c!.def, need) };
  }
  const waits = line.map((c, j) => secondsUntil(states[j]!, c.def, need - (available - Math.max(0, states[j]!.balance))));
  const known = waits.filter((w): w is number => w !== null);
  return {
    bucket: line.map((c) => c.bucket).join(" → "),
    quota: line.map((c) => c.quota).join(" → "),
    balance: available,
    capacity: line.reduce((sum, c) => sum + c.def.capacity, 0),
    retryAfter: known.length > 0 ? Math.min(...known) : null,
  };
}

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
   * Reserves `nanos` on every line: a single bucket must hold it (at least one nanodollar when `nanos` is 0: Aperture's
   * "every bucket must have a positive balance"), a chain must hold it across its positive balances. All lines or
   * none; the shortfalls say which fell short.
   */
  reserve(lines: readonly Line[], nanos: number): ReserveResult {
    const need = Math.max(nanos, 1);
    const run = this.db.transaction((): ReserveResult => {
      const now = this.now();
      const states = new Map<string, BucketState>();
      const stateOf = (c: Charge) => states.get(c.bucket) ?? this.current(c, now);
      const short: BucketShortfall[] = [];
      const portions = lines.map((line) => {
        const balances = line.map(stateOf).map((s) => s.balance);
        const available = line.length === 1 ? balances[0]! : balances.reduce((sum, b) => sum + Math.max(0, b), 0);
        if (available < need) {
          short.push(shortfall(line, line.map(stateOf), available, need));
          return [];
        }
        const split = splitAlong(balances, nanos);
        line.forEach((c, j) => states.set(c.bucket, adjust(stateOf(c), c.def, -split[j]!)));
        return split;
      });
      if (short.length > 0) return { ok: false, short };
      for (const line of lines) for (const c of line) this.write(c, states.get(c.bucket)!);
      return { ok: true, portions };
    });
    const result = run.immediate();
    if (result.ok) {
      lines.forEach((line, i) => line.forEach((c, j) => this.inFlight.set(c.bucket, (this.inFlight.get(c.bucket) ?? 0) + result.portions[i]![j]!)));
    }
    return result;
  }

  /**
   * Replaces each line's reservation by `charged`, split along the line as if the reservation had not been taken, and
   * records the charge per bucket. Meant to run inside the request log's transaction (a RowExtension), so the request
   * row and its charges commit together.
   */
  settle(requestId: string, lines: readonly SettleLine[], charged: number, atReservation: boolean): void {
    const totals = new Map<string, { charge: Charge; reserved: number; charged: number }>();
    const run = this.db.transaction(() => {
      const now = this.now();
      const states = new Map<string, BucketState>();
      const stateOf = (c: Charge) => states.get(c.bucket) ?? this.current(c, now);
      for (const { line, portions } of lines) {
        const takes = splitAlong(line.map((c, j) => stateOf(c).balance + portions[j]!), charged);
        line.forEach((c, j) => {
          states.set(c.bucket, adjust(stateOf(c), c.def, portions[j]! - takes[j]!));
          const t = totals.get(c.bucket) ?? { charge: c, reserved: 0, charged: 0 };
          totals.set(c.bucket, { charge: c, reserved: t.reserved + portions[j]!, charged: t.charged + takes[j]! });
        });
      }
      for (const { charge, reserved, charged: spent } of totals.values()) {
        this.write(charge, states.get(charge.bucket)!);
        this.insertCharge.run({ requestId, bucket: charge.bucket, quota: charge.quota, ts: now, reserved, charged: spent, atReservation: atReservation ? 1 : 0 });
      }
    });
    run();
    for (const { charge, reserved } of totals.values()) {
      const left = (this.inFlight.get(charge.bucket) ?? 0) - reserved;
      if (left > 0) this.inFlight.set(charge.bucket, left);
      else this.inFlight.delete(charge.bucket);
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
