// The stats behind the UI's charts (GET /api/stats): one answer per viewer's choice of range, step and grouping.
// Users get their own principal's rows and their own buckets only; admins everyone's, or one principal's on request.
import type { Caller } from "../access/caller.js";
import { quotaGrants } from "../access/caller.js";
import type { Identity } from "../identity/types.js";
import type { SessionRef } from "../proxy/exchange.js";
import { chargesFrom } from "../quotas/charges.js";
import type { Store } from "../store/db.js";
import type { StatsQuery, StatsResponse } from "../ui/schemas/stats.js";
import { type BucketRef, burnDown, chargedBuckets } from "./burn-down.js";
import { type Scope, findingSeries, requestSeries, spendSeries, toolKindSeries, topPrograms } from "./series.js";
import { statsWindow } from "./window.js";

export type { Scope } from "./series.js";

export interface StatsDeps {
  readonly store: Store;
  readonly sessionFor: (identity: Identity) => SessionRef | null;
}

export type StatsResult = { readonly ok: true; readonly value: StatsResponse } | { readonly ok: false; readonly status: 400 | 403; readonly message: string };

/** The rows a viewer may see: a user is pinned to their own principal, and asking for another's is refused. */
export function scopeFor(caller: Caller, q: Pick<StatsQuery, "principal" | "repository" | "pr">): Scope | { error: string } {
  const own = caller.identity.principal;
  if (caller.role !== "admin" && q.principal !== undefined && q.principal !== own) return { error: `access denied: role user may only read its own rows (${own})` };
  return { principal: caller.role === "admin" ? q.principal : own, repository: q.repository, pr: q.pr };
}

/** A user's buckets are those their grants charge; an admin's view is every bucket charged in the window. */
async function bucketsFor(deps: StatsDeps, caller: Caller, scope: Scope, charged: () => Promise<BucketRef[]>): Promise<readonly BucketRef[]> {
  if (scope.repository !== undefined) return [];
  if (caller.role === "admin" && scope.principal === undefined) return charged();
  return chargesFrom(quotaGrants(caller.access.values), caller.identity, deps.sessionFor(caller.identity), caller.config.quotas).charges;
}

export async function stats(deps: StatsDeps, caller: Caller, q: StatsQuery, now = Date.now()): Promise<StatsResult> {
  const scope = scopeFor(caller, q);
  if ("error" in scope) return { ok: false, status: 403, message: scope.error };
  const w = statsWindow(q, now);
  if ("error" in w) return { ok: false, status: 400, message: w.error };
  const { store } = deps;
  const group = q.group ?? "model";
  const totals = await requestSeries(store, w, scope);
  const buckets = await bucketsFor(deps, caller, scope, () => chargedBuckets(store, w, caller.config.quotas));
  return {
    ok: true,
    value: {
      from: w.from,
      to: w.to,
      step_ms: w.step,
      group,
      times: [...w.times],
      spend: await spendSeries(store, w, scope, group, totals),
      requests: { requests: totals.requests, errors: totals.errors, denials: totals.denials },
      tool_calls: await toolKindSeries(store, w, scope),
      programs: await topPrograms(store, w, scope),
      findings: await findingSeries(store, w, scope),
      budgets: await burnDown(store, w, buckets, now),
    },
  };
}
