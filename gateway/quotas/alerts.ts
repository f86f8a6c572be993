// Budget alerts: once a request's buckets are settled, each bucket whose spent share of its capacity reached one of
// its quota's `alerts` thresholds (or that refused a request: 100 %) fires a `budget_alert` webhook event (through the durable outbox, to the hooks the
// caller's grants name for it), at most once per threshold per refill period (the time `rate` takes to refill the
// whole capacity; a bucket that never refills alerts once). Alerts are kept in `budget_alerts`, which the CI session
// report reads, so they show in the PR's check run and the job summary.
import { randomUUID } from "node:crypto";
import type { BudgetAlert } from "../../src/ci-session.js";
import type { Config } from "../config/schema.js";
import type { Exchange, ExchangePlugin } from "../proxy/exchange.js";
import type { Db } from "../store/db.js";
import type { Outbox, OutboxMessage } from "../store/outbox.js";
import { hooksFor } from "../webhooks/select.js";
import type { BucketStore, Charge } from "./bucket-store.js";
import { chargesFor } from "./charges.js";
import { QUOTA_SHORT } from "./plugin.js";

export const ALERTS_SCHEMA = `
CREATE TABLE IF NOT EXISTS budget_alerts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  bucket TEXT NOT NULL,
  quota TEXT NOT NULL,
  threshold INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  spent_nanos INTEGER NOT NULL,
  capacity_nanos INTEGER NOT NULL,
  request_id TEXT NOT NULL,
  session_id TEXT,
  principal TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS budget_alerts_bucket ON budget_alerts (bucket, threshold, ts);
CREATE INDEX IF NOT EXISTS budget_alerts_session ON budget_alerts (session_id) WHERE session_id IS NOT NULL;
`;

export const BUDGET_ALERT_EVENT = "budget_alert";

export interface BudgetAlertsDeps {
  readonly db: Db;
  readonly store: BucketStore;
  readonly outbox: Outbox;
  readonly getConfig: () => Config;
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
  deps.db.exec(ALERTS_SCHEMA);
  const recent = deps.db.prepare("SELECT 1 FROM budget_alerts WHERE bucket = ? AND threshold = ? AND ts > ? LIMIT 1");
  const insert = deps.db.prepare(`INSERT INTO budget_alerts (bucket, quota, threshold, ts, spent_nanos, capacity_nanos, request_id, session_id, principal)
    VALUES (@bucket, @quota, @threshold, @ts, @spent, @capacity, @requestId, @sessionId, @principal)`);

  /** Records and enqueues what this bucket newly crossed; one transaction, so two replicas of a check fire once. */
  const check = async (ex: Exchange, charge: Charge, exhausted: boolean) => {
    const def = charge.def;
    const state = await deps.store.peek(charge);
    // A bucket that refused a request is spent as far as its callers can tell: that is its 100 %.
    const spent = exhausted ? Math.max(def.capacity, def.capacity - state.balance) : def.capacity - state.balance;
    const reached = reachedThresholds(def.alerts, spent, def.capacity);
    if (reached.length === 0) return;
    const at = now();
    // The refill period: how long the rate takes to refill the whole capacity.
    const since = def.rate.nanos > 0 ? at - Math.ceil((def.capacity * def.rate.periodMs) / def.rate.nanos) : Number.NEGATIVE_INFINITY;
    const hooks = hooksFor(ex.access, ex.modelKey, deps.getConfig().hooks, BUDGET_ALERT_EVENT);
    const fired = deps.db.transaction(() => {
      const messages: OutboxMessage[] = [];
      for (const threshold of reached) {
        if (recent.get(charge.bucket, threshold, Number.isFinite(since) ? since : -1)) continue;
        insert.run({ bucket: charge.bucket, quota: charge.quota, threshold, ts: at, spent, capacity: def.capacity, requestId: ex.id, sessionId: ex.session?.id ?? null, principal: ex.identity.principal });
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
      if (messages.length > 0) deps.outbox.enqueue(messages, at, deps.db);
      return messages.length;
    })();
    if (fired > 0) deps.kick();
  };

  return {
    name: "budget-alerts",
    after(ex) {
      if (!ex.route.billable) return;
      const config = deps.getConfig();
      const charges = chargesFor(ex.access, ex.modelKey, ex.identity, ex.session, config.quotas).charges.filter((c) => c.def.alerts.length > 0);
      if (charges.length === 0) return;
      const short = new Set((ex.state.get(QUOTA_SHORT) as readonly string[] | undefined) ?? []);
      return {
        // After the row's transaction commits, and with it the settlement the balance must include.
        write() {
          setImmediate(() => {
            for (const charge of charges) check(ex, charge, short.has(charge.bucket)).catch((err: unknown) => deps.onError(err, `budget alerts for ${charge.bucket}`));
          });
        },
      };
    },
  };
}

/** A CI session's alerts, oldest first, for its report. */
export function sessionAlerts(db: Db, sessionId: string): BudgetAlert[] {
  db.exec(ALERTS_SCHEMA);
  const rows = db
    .prepare("SELECT bucket, threshold, spent_nanos, capacity_nanos, ts FROM budget_alerts WHERE session_id = ? ORDER BY ts, id")
    .all(sessionId) as { bucket: string; threshold: number; spent_nanos: number; capacity_nanos: number; ts: number }[];
  return rows.map((r) => ({ bucket: r.bucket, threshold_percent: r.threshold, spent_nanos: r.spent_nanos, capacity_nanos: r.capacity_nanos, at: new Date(r.ts).toISOString() }));
}
