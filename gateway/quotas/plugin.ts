// Reserve, then settle. Before forwarding, the request's worst-case cost is debited from every bucket it is charged
// to, in one transaction, or the request is refused with a 429 in the provider's own shape. After the response the
// reservation is replaced by the actual cost, written with the request's log row (SQLite store) or applied from a
// durable entry written there (shared store). Concurrent requests can then overspend a bucket by at most their
// estimation error, never by the number in flight. A store that cannot be reached refuses with a 503: budgets that
// cannot be checked are not bypassed.
import { formatDollars } from "../config/units.js";
import type { Pricer } from "../pricing/prices.js";
import { type Denial, type Exchange, type ExchangePlugin, type Outcome, stateSlot } from "../proxy/exchange.js";
import type { RowExtension } from "../store/requests.js";
import { chargesFrom } from "./charges.js";
import { type Charging, type Estimate, budgetCost, estimateCost } from "./estimate.js";
import { type BucketShortfall, type BucketStore, BucketStoreUnavailable, type ReserveResult, type SettleLine } from "./bucket-store.js";

export const QUOTA_PLUGIN = "quota";
/** Exchange state: the buckets (concrete names) that could not cover a refused request, for budget alerts. */
export const QUOTA_SHORT = stateSlot<readonly string[]>("quota_short");

/** SDKs honour Retry-After only up to about a minute; beyond that their own backoff would just fail again. */
const MAX_SDK_RETRY_SECONDS = 60;

export interface QuotaPluginDeps {
  readonly store: BucketStore;
  readonly pricer: Pricer;
}

interface Reservation {
  readonly lines: readonly SettleLine[];
  readonly estimate: Estimate;
}

const RESERVATION = stateSlot<Reservation>(QUOTA_PLUGIN);

function describeEstimate(e: Estimate): string {
  const parts = [`≤ ${e.inputTokens} input tokens${e.byReference ? " (content by reference: the model's context window)" : ""}`];
  parts.push(e.capped ? `≤ ${e.outputTokens} output tokens` : `≤ ${e.outputTokens} output tokens (no max_tokens set)`);
  if (e.toolCalls > 0) parts.push(`${e.toolCalls} server-tool calls${e.toolCallsCapped ? "" : " (no max_uses set)"} with ${formatDollars(e.feeNanos)} in fees`);
  if (e.tierMultiplier > 1) parts.push(`× ${e.tierMultiplier} for the premium service tier`);
  return `up to ${formatDollars(e.nanos)} (${parts.join(", ")})`;
}

export function quotaDenial(short: readonly BucketShortfall[], estimate: Estimate): Denial {
  const never = short.filter((s) => s.retryAfter === null);
  const first = short[0]!;
  let message: string;
  if (never.some((s) => estimate.nanos > s.capacity)) {
    const s = never.find((b) => estimate.nanos > b.capacity)!;
    message = `quota exceeded: this request may cost ${describeEstimate(estimate)}, more than bucket "${s.bucket}" can ever hold (${formatDollars(s.capacity)}); lower max_tokens or ask an admin to raise the quota`;
  } else if (never.length > 0) {
    message = `quota exceeded: bucket "${never[0]!.bucket}" has ${formatDollars(never[0]!.balance)} left and does not refill; this request may cost ${describeEstimate(estimate)}; ask an admin to refill it`;
  } else {
    message = `quota exceeded: bucket "${first.bucket}" has ${formatDollars(first.balance)} left; this request may cost ${describeEstimate(estimate)}`;
  }
  const headers: Record<string, string> = {};
  if (never.length === 0) {
    const wait = Math.max(...short.map((s) => s.retryAfter ?? 0));
    headers["retry-after"] = String(wait);
    message += `; retry in ${wait}s`;
    if (wait > MAX_SDK_RETRY_SECONDS) headers["x-should-retry"] = "false";
  } else {
    headers["x-should-retry"] = "false";
  }
  return { kind: "rate_limit", category: "quota", message, headers };
}

/** What a finished request is charged, and whether that is its reservation because the real cost is unknown. */
export function settlement(estimate: Charging, outcome: Outcome): { charged: number; atReservation: boolean } {
  const reserved = estimate.nanos;
  if (outcome.denial) {
    // Refused by a later check, or the provider provably never got the request: nothing was billed.
    if (outcome.denial.category !== "upstream" || outcome.denial.unsent === true) return { charged: 0, atReservation: false };
    // The provider had the request and no usage came back (client gone and the answer not read, upstream cut).
    return { charged: reserved, atReservation: true };
  }
  if (outcome.costNanos === null) return { charged: reserved, atReservation: true };
  // An error answer is not billed; a 2xx is, with what the pricer cannot see (tier premium, server-tool fees).
  const cost = outcome.status >= 400 ? outcome.costNanos : budgetCost(estimate, outcome.costNanos, outcome.summary.serverToolCalls);
  // A 2xx that broke off (client gone, upstream cut): the usage seen is partial, the bill may not be. Never refund.
  if (outcome.error !== undefined && outcome.status < 400) return { charged: Math.max(cost, reserved), atReservation: true };
  return { charged: cost, atReservation: false };
}

export function quotaPlugin({ store, pricer }: QuotaPluginDeps): ExchangePlugin {
  return {
    name: QUOTA_PLUGIN,
    async before(ex: Exchange): Promise<Denial | void> {
      if (!ex.route.billable) return;
      const { config } = ex.caller;
      const { lines, undefinedRefs } = chargesFrom(ex.entitlement.quotas, ex.identity, ex.session, config.quotas);
      if (undefinedRefs.length > 0) {
        // A grant pointing at a quota the gateway does not define: fail closed, and say which.
        return { kind: "permission", category: "quota", message: `access denied: grant references undefined quota (${undefinedRefs.join(", ")})` };
      }
      if (lines.length === 0) return;
      const estimate = estimateCost(ex, pricer, config.quota_estimate);
      let result: ReserveResult;
      try {
        result = await store.reserve(lines, estimate.nanos);
      } catch (err) {
        if (!(err instanceof BucketStoreUnavailable)) throw err;
        return { kind: "unavailable", category: "quota", message: `budget check failed, request not forwarded: ${err.message}` };
      }
      if (!result.ok) {
        ex.state.set(QUOTA_SHORT, result.short.flatMap((s) => s.bucket.split(" → ")));
        return quotaDenial(result.short, estimate);
      }
      if (!estimate.capped || !estimate.toolCallsCapped) ex.flags.push("quota_estimate_uncapped");
      if (estimate.byReference) ex.flags.push("quota_estimate_by_reference");
      if (!estimate.priced) ex.flags.push("quota_estimate_unpriced");
      const reservation: Reservation = { lines: lines.map((line, i) => ({ line, portions: result.portions[i]! })), estimate };
      ex.state.set(RESERVATION, reservation);
    },
    after(ex: Exchange, outcome: Outcome): RowExtension | void {
      const reservation = ex.state.get(RESERVATION);
      if (!reservation) return;
      ex.state.delete(RESERVATION);
      const { charged, atReservation } = settlement(reservation.estimate, outcome);
      if (atReservation) ex.flags.push("quota_settled_at_reservation");
      return store.settlement(reservation.lines, charged, atReservation);
    },
  };
}
