// Budget alerts: once a request's buckets are settled, each bucket whose spent share of its capacity reached one of
// its quota's `alerts` thresholds (or that refused a request: 100 %) fires a `budget_alert` webhook event (through the durable outbox, to the hooks the
// caller's grants name for it), at most once per threshold per refill period (the time `rate` takes to refill the
// whole capacity; a bucket that never refills alerts once). Alerts are kept in `budget_alerts`, which the CI session
// report reads (store/session-report.ts), so they show in the PR's check run and the job summary.
import { randomUUID } from "node:crypto";
import type { Exchange, ExchangePlugin } from "../proxy/exchange.js";
import { sql } from "kysely";
import { type Store, isPostgres } from "../store/db.js";
import { type Outbox, type OutboxMessage, webhookItem } from "../store/outbox.js";
import { type SelectedHook, hooksFor } from "./select.js";
import type { BucketStore, Charge } from "../quotas/bucket-store.js";
import { chargesFrom } from "../quotas/charges.js";
import { QUOTA_SHORT } from "../quotas/plugin.js";

export const BUDGET_ALERT_EVENT = "budget_alert";

export interface BudgetAlertsDeps {
  readonly store: Store;
  readonly buckets: BucketStore;
  readonly outbox: Outbox;
  /** Deliver now rather than at the outbox's next scan. */
  readonly kick: () => void;
  readonly now?: () => number;
  readonly onError: (err: unknown, context: string) => void;
}

/** Thresholds reached at this spend, highest last. */
export function reachedThresholds(thresholds: readonly number[], spent: number, capacity: number): number[] {
  return [...new Set(thresholds)].filter((t) => (capacity <= 0 ? true : spent * 100 >= t * capacity)).sort((a, b) => a - b);
}

export function budgetAlertsPlugin(deps: BudgetAlertsDeps): ExchangePlugin {
  const now = deps.now ?? Date.now;

  /**
   * Records and enqueues what this bucket newly crossed, in one transaction. Runs once the settlement committed, after
   * the request: the charge and hooks come from the config the request was judged under, not the running one.
   */
  const check = async (ex: Exchange, charge: Charge, hooks: readonly SelectedHook[], exhausted: boolean) => {
    const def = charge.def;
    // On a shared store the settlement is applied shortly after the row commits: until then the balance still holds
    // the request's reservation (its worst case), not its cost.
    await deps.buckets.applied(ex.id);
    const state = await deps.buckets.peek(charge);
    // A bucket that refused a request is spent as far as its callers can tell: that is its 100 %.
    const spent = exhausted ? Math.max(def.capacity, def.capacity - state.balance) : def.capacity - state.balance;
    const reached = reachedThresholds(def.alerts, spent, def.capacity);
    if (reached.length === 0) return;
    const at = now();
    // The refill period: how long the rate takes to refill the whole capacity (a bucket that never refills: forever).
    const since = def.rate.nanos > 0 ? at - Math.ceil((def.capacity * def.rate.periodMs) / def.rate.nanos) : -1;
    const fired = await deps.store.db.transaction().execute(async (trx) => {
      // Two checks of one bucket at once (two requests settling together, or two replicas) must not both find no
      // recent alert and both fire: PostgreSQL serialises them on the bucket; SQLite's single writer already does.
      if (isPostgres(deps.store)) await sql`SELECT pg_advisory_xact_lock(hashtext(${`budget-alert:${charge.bucket}`}))`.execute(trx);
      const messages: OutboxMessage[] = [];
      for (const threshold of reached) {
        const recent = await trx.selectFrom("budget_alerts").select("id").where("bucket", "=", charge.bucket).where("threshold", "=", threshold).where("ts", ">", since).limit(1).executeTakeFirst();
        if (recent) continue;
        await trx
          .insertInto("budget_alerts")
          .values({ bucket: charge.bucket, quota: charge.quota, threshold, ts: at, spent_nanos: spent, capacity_nanos: def.capacity, request_id: ex.id, session_id: ex.session?.id ?? null, principal: ex.identity.principal })
          .execute();
        const payload = JSON.stringify({
          event: BUDGET_ALERT_EVENT,
          timestamp: new Date(at).toISOString(),
          bucket: charge.bucket,
          quota: charge.quota,
          threshold_percent: threshold,
          spent_nanos: spent,
          capacity_nanos: def.capacity,
          balance_nanos: state.balance,
          refill: def.rate.text,
          request_id: ex.id,
          principal: ex.identity.principal,
          session: ex.session ? { id: ex.session.id, repository: ex.session.repository, pr_number: ex.session.prNumber, workflow: ex.session.workflow, run_id: ex.session.runId } : null,
        });
        for (const { name, hook } of hooks) if (hook) messages.push({ msgId: `msg_${randomUUID().replaceAll("-", "")}`, hook: name, event: BUDGET_ALERT_EVENT, payload });
      }
      await deps.outbox.enqueue("webhook", messages.map(webhookItem), at, trx);
      return messages.length;
    });
    if (fired > 0) deps.kick();
  };

  return {
    name: "budget-alerts",
    after(ex) {
      if (!ex.route.billable) return;
      const { config } = ex.caller;
      const charges = chargesFrom(ex.entitlement.quotas, ex.identity, ex.session, config.quotas).charges.filter((c) => c.def.alerts.length > 0);
      if (charges.length === 0) return;
      const hooks = hooksFor(ex.entitlement, config.hooks, BUDGET_ALERT_EVENT);
      const short = new Set(ex.state.get(QUOTA_SHORT) ?? []);
      return {
        // Checked once the row's transaction has committed, and with it the settlement the balance must include.
        committed() {
          for (const charge of charges) check(ex, charge, hooks, short.has(charge.bucket)).catch((err: unknown) => deps.onError(err, `budget alerts for ${charge.bucket}`));
        },
      };
    },
  };
}
