// Token-bucket arithmetic in integer nanodollars, with no clock of its own (callers pass `now`), and bucket-name
// template expansion. Refill is exact: the sub-nanodollar remainder of rate × elapsed is carried, never rounded away.
import type { QuotaDefinition } from "../config/quotas.js";
import type { Identity } from "../identity/types.js";
import type { SessionRef } from "../proxy/exchange.js";

export interface BucketState {
  /** Nanodollars; negative when settled costs exceeded the balance (overdraft of the last request). */
  readonly balance: number;
  /** rate.nanos × elapsed ms not yet turned into whole nanodollars, in units of 1/periodMs nanodollar. */
  readonly carry: number;
  /** Epoch ms the balance was computed at. */
  readonly updatedMs: number;
}

/** A new bucket starts full. */
export function freshBucket(def: QuotaDefinition, now: number): BucketState {
  return { balance: def.capacity, carry: 0, updatedMs: now };
}

/** The balance at `now`: refilled at the definition's rate, capped at its capacity (a lowered capacity caps at once). */
export function refill(state: BucketState, def: QuotaDefinition, now: number): BucketState {
  const elapsed = Math.max(0, now - state.updatedMs);
  const updatedMs = Math.max(now, state.updatedMs);
  if (state.balance >= def.capacity) return { balance: def.capacity, carry: 0, updatedMs };
  // BigInt: $500/month × a month of milliseconds overflows 2^53.
  const total = BigInt(def.rate.nanos) * BigInt(elapsed) + BigInt(state.carry);
  const period = BigInt(def.rate.periodMs);
  const added = total / period;
  const balance = BigInt(state.balance) + added;
  if (balance >= BigInt(def.capacity)) return { balance: def.capacity, carry: 0, updatedMs };
  return { balance: Number(balance), carry: Number(total % period), updatedMs };
}

/** Adds (or, negative, removes) nanodollars; never above capacity. */
export function adjust(state: BucketState, def: QuotaDefinition, delta: number): BucketState {
  const balance = state.balance + delta;
  return balance >= def.capacity ? { ...state, balance: def.capacity, carry: 0 } : { ...state, balance };
}

/**
 * Whole seconds until the refill alone brings the balance to `need`; 0 if it is there already; null if it never will
 * (no refill rate, or `need` above capacity).
 */
export function secondsUntil(state: BucketState, def: QuotaDefinition, need: number): number | null {
  if (state.balance >= need) return 0;
  if (need > def.capacity || def.rate.nanos === 0) return null;
  const missing = BigInt(need - state.balance) * BigInt(def.rate.periodMs) - BigInt(state.carry);
  const ms = (missing + BigInt(def.rate.nanos) - 1n) / BigInt(def.rate.nanos);
  return Math.max(1, Math.ceil(Number(ms) / 1000));
}

/** What the templates of a bucket name expand to for one caller. Without a CI session the session fields are "-". */
export function templateValues(identity: Identity, session: SessionRef | null): Readonly<Record<string, string>> {
  return {
    user: identity.principal,
    node: identity.nodeId ?? "-",
    repo: session?.repository ?? "-",
    pr: session?.prNumber === null || session?.prNumber === undefined ? "-" : String(session.prNumber),
    workflow: session?.workflow ?? "-",
    run: session?.runId ?? "-",
  };
}

/** "daily:<user>" → "daily:alice@example.com". Names without templates are one shared bucket. */
export function expandBucket(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(/<([a-z]+)>/g, (whole, key: string) => values[key] ?? whole);
}

/** Which quota a concrete bucket name belongs to, for names never charged yet (admin refills). */
export function templateMatches(template: string, bucket: string): boolean {
  const source = template
    .split(/(<[a-z]+>)/)
    .map((part) => (/^<[a-z]+>$/.test(part) ? ".+" : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
    .join("");
  return new RegExp(`^${source}$`, "s").test(bucket);
}
