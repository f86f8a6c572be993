// What a bucket store is (SQLite in the gateway's file, or PostgreSQL shared by replicas) and the arithmetic every store
// runs inside its transaction: given the buckets' balances refilled to now, a reservation debits every line or none,
// and a settlement replaces each reservation by the actual cost. Stores differ only in how they lock and persist.
import type { QuotaDefinition } from "../config/quotas.js";
import type { RowExtension } from "../store/requests.js";
import { type BucketState, adjust, secondsUntil } from "./buckets.js";

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

export interface RefillResult {
  readonly before: BucketState;
  readonly after: BucketState;
}

/** What one settlement did to one bucket (a quota_charges row). */
export interface BucketCharge {
  readonly charge: Charge;
  readonly reserved: number;
  readonly charged: number;
}

type MaybePromise<T> = T | Promise<T>;

/**
 * Where balances live. The SQLite store answers synchronously; the PostgreSQL store answers with promises and throws
 * BucketStoreUnavailable when the database cannot be reached (callers fail closed).
 */
export interface BucketStore {
  /** "sqlite" or "postgres host:port/db", for logs and errors. */
  readonly description: string;
  /**
   * Reserves `nanos` on every line (nothing on a line whose quotas admit on a positive balance): a single bucket must
   * hold it (at least one nanodollar when that is 0), a chain must hold it across its positive balances. All lines or none; the shortfalls say which fell short.
   */
  reserve(lines: readonly Line[], nanos: number): MaybePromise<ReserveResult>;
  /**
   * Settles a finished request to `charged`: what to write with its log row (the settlement itself, or a durable
   * entry that settles it shortly after).
   */
  settlement(lines: readonly SettleLine[], charged: number, atReservation: boolean): RowExtension;
  /**
   * Resolves once the request's settlement is in the balances `peek` reads: at once where it is written with the log
   * row (SQLite), once the durable entry has been applied where it is settled shortly after (PostgreSQL).
   */
  applied(requestId: string): MaybePromise<void>;
  /** The bucket's balance now, without writing (a never-charged bucket is full). */
  peek(charge: Charge): MaybePromise<BucketState>;
  /** Nanodollars reserved by this gateway's requests still in flight (balances already exclude them). */
  reserved(bucket: string): number;
  /** Every bucket ever charged, as stored (not refilled). */
  list(): MaybePromise<StoredBucket[]>;
  /** Adds `amount` (everything up to capacity when null), never beyond capacity; recorded with who asked. */
  refill(charge: Charge, amount: number | null, principal: string): MaybePromise<RefillResult>;
  close(): MaybePromise<void>;
}

/** The shared store cannot be reached or failed mid-transaction: budgets cannot be checked, so nothing is forwarded. */
export class BucketStoreUnavailable extends Error {
  override readonly name = "BucketStoreUnavailable";
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

/** `current(c)`: the bucket's state as stored, refilled to now. */
type Current = (charge: Charge) => BucketState;

/**
 * What a line reserves: the estimate, or nothing when every quota on it admits on a positive balance (Aperture's rule;
 * a mixed chain takes the stricter rule). Reserving nothing still needs one nanodollar: a positive balance.
 */
export function lineReservation(line: Line, nanos: number): number {
  return line.every((c) => c.def.admission === "positive") ? 0 : nanos;
}

/** The reservation's outcome and, when it is admitted, every touched bucket's new state (to write). */
export function planReservation(lines: readonly Line[], estimate: number, current: Current): { result: ReserveResult; states: ReadonlyMap<string, BucketState> } {
  const states = new Map<string, BucketState>();
  const stateOf = (c: Charge) => states.get(c.bucket) ?? current(c);
  const short: BucketShortfall[] = [];
  const portions = lines.map((line) => {
    const nanos = lineReservation(line, estimate);
    const need = Math.max(nanos, 1);
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
  return short.length > 0 ? { result: { ok: false, short }, states } : { result: { ok: true, portions }, states };
}

/**
 * Replaces each line's reservation by `charged`, split along the line as if the reservation had not been taken.
 * Returns every touched bucket's new state and what it was charged.
 */
export function planSettlement(lines: readonly SettleLine[], charged: number, current: Current): { states: ReadonlyMap<string, BucketState>; charges: BucketCharge[] } {
  const states = new Map<string, BucketState>();
  const totals = new Map<string, BucketCharge>();
  const stateOf = (c: Charge) => states.get(c.bucket) ?? current(c);
  for (const { line, portions } of lines) {
    const takes = splitAlong(line.map((c, j) => stateOf(c).balance + portions[j]!), charged);
    line.forEach((c, j) => {
      states.set(c.bucket, adjust(stateOf(c), c.def, portions[j]! - takes[j]!));
      const t = totals.get(c.bucket) ?? { charge: c, reserved: 0, charged: 0 };
      totals.set(c.bucket, { charge: c, reserved: t.reserved + portions[j]!, charged: t.charged + takes[j]! });
    });
  }
  return { states, charges: [...totals.values()] };
}

/** Every distinct bucket of a request's lines. */
export function chargesOf(lines: readonly Line[]): Charge[] {
  const out = new Map<string, Charge>();
  for (const line of lines) for (const c of line) if (!out.has(c.bucket)) out.set(c.bucket, c);
  return [...out.values()];
}

/** What a settlement releases per bucket: the portions its lines reserved there. */
export function reservedPerBucket(lines: readonly SettleLine[]): { bucket: string; reserved: number }[] {
  const out = new Map<string, number>();
  for (const { line, portions } of lines) line.forEach((c, j) => out.set(c.bucket, (out.get(c.bucket) ?? 0) + portions[j]!));
  return [...out].map(([bucket, reserved]) => ({ bucket, reserved }));
}

/** Nanodollars held by this gateway's requests in flight, per bucket (for display). */
export class InFlight {
  private readonly held = new Map<string, number>();

  reserved(lines: readonly Line[], portions: readonly (readonly number[])[]): void {
    lines.forEach((line, i) => line.forEach((c, j) => this.held.set(c.bucket, (this.held.get(c.bucket) ?? 0) + portions[i]![j]!)));
  }

  settled(charges: readonly { readonly bucket: string; readonly reserved: number }[]): void {
    for (const { bucket, reserved } of charges) {
      const left = (this.held.get(bucket) ?? 0) - reserved;
      if (left > 0) this.held.set(bucket, left);
      else this.held.delete(bucket);
    }
  }

  get(bucket: string): number {
    return this.held.get(bucket) ?? 0;
  }
}
