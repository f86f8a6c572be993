// GET /api/quotas (the caller's buckets; every bucket for admins) and POST /api/quotas/refill (admins, up to capacity).
// Both read the configured bucket store; a shared store that cannot be reached answers 503.
import type { Context, Hono } from "hono";
import { z } from "zod";
import type { QuotaDefinition } from "../config/quotas.js";
import type { Config } from "../config/schema.js";
import { Dollars, formatDollars } from "../config/units.js";
import type { GatewayEnv } from "../http/env.js";
import type { Identity } from "../identity/types.js";
import { type Caller, quotaGrants } from "../access/caller.js";
import type { SessionRef } from "../proxy/exchange.js";
import type { BucketState } from "./buckets.js";
import { refill, templateMatches } from "./buckets.js";
import { chargesFrom } from "./charges.js";
import { type BucketStore, BucketStoreUnavailable, type Charge } from "./bucket-store.js";
import { requireRole } from "../http/require-role.js";
import { apiError, zodMessage } from "../http/api-error.js";
import { RATE_LIMIT_QUOTA_PREFIX } from "./rate-limits.js";

export interface QuotaApiDeps {
  readonly store: BucketStore;
  readonly sessionFor: (identity: Identity) => SessionRef | null;
}

const RefillBody = z.strictObject({
  bucket: z.string().min(1),
  /** Dollars to add; omitted: refill to capacity. */
  amount: Dollars.optional(),
});

function describe(bucket: string, quota: string, def: QuotaDefinition | undefined, state: BucketState, reserved: number) {
  return {
    bucket,
    quota,
    defined: def !== undefined,
    balance_nanos: state.balance,
    balance: formatDollars(state.balance),
    capacity_nanos: def?.capacity ?? null,
    capacity: def ? formatDollars(def.capacity) : null,
    rate: def?.rate.text ?? null,
    reserved_nanos: reserved,
    updated_at: new Date(state.updatedMs).toISOString(),
  };
}

export type BucketView = ReturnType<typeof describe>;

/** The caller's own buckets (what its grants charge); for admins also every bucket ever charged. Sorted by name. */
export async function visibleBuckets(deps: QuotaApiDeps, { config, access, identity }: Caller): Promise<BucketView[]> {
  const own = chargesFrom(quotaGrants(access.values), identity, deps.sessionFor(identity), config.quotas).charges;
  const out = new Map<string, BucketView>();
  for (const charge of own) out.set(charge.bucket, describe(charge.bucket, charge.quota, charge.def, await deps.store.peek(charge), deps.store.reserved(charge.bucket)));
  if (access.role === "admin") {
    for (const b of await deps.store.list()) {
      // Rate limits share the store but are counted in requests and tokens, not dollars.
      if (out.has(b.bucket) || b.quota.startsWith(RATE_LIMIT_QUOTA_PREFIX)) continue;
      const def = config.quotas[b.quota];
      // The stored row, refilled to now (peek would read it again).
      const state = def ? refill(b, def, Date.now()) : b;
      out.set(b.bucket, describe(b.bucket, b.quota, def, state, deps.store.reserved(b.bucket)));
    }
  }
  return [...out.values()].sort((a, b) => a.bucket.localeCompare(b.bucket));
}

/** The quota a concrete bucket belongs to: the one it was last charged under, else the first template it fits. */
async function resolveCharge(bucket: string, store: BucketStore, config: Config): Promise<Charge | { error: string }> {
  const stored = (await store.list()).find((b) => b.bucket === bucket);
  if (stored) {
    const def = config.quotas[stored.quota];
    return def ? { bucket, quota: stored.quota, def } : { error: `bucket "${bucket}" belongs to quota "${stored.quota}", which the config no longer defines` };
  }
  const quota = config.quotas[bucket] ? bucket : Object.keys(config.quotas).find((t) => templateMatches(t, bucket));
  return quota ? { bucket, quota, def: config.quotas[quota]! } : { error: `no quota defines a bucket named "${bucket}"` };
}

/** Runs `answer`; a shared store that cannot be reached is a 503 that says so. */
async function withStore(c: Context<GatewayEnv>, answer: () => Promise<Response>): Promise<Response> {
  try {
    return await answer();
  } catch (err) {
    if (err instanceof BucketStoreUnavailable) return apiError(c, 503, "quota_store_unavailable", err.message);
    throw err;
  }
}

export function mountQuotaApi(app: Hono<GatewayEnv>, deps: QuotaApiDeps): void {
  app.get("/api/quotas", requireRole("user"), (c) => withStore(c, async () => {
    const { config } = c.var.caller;
    const buckets = await visibleBuckets(deps, c.var.caller);
    const quotas = Object.fromEntries(
      Object.entries(config.quotas).map(([name, q]) => [name, { capacity: formatDollars(q.capacity), capacity_nanos: q.capacity, rate: q.rate.text, on_exceed: q.on_exceed }]),
    );
    return c.json({ buckets, quotas });
  }));

  app.post("/api/quotas/refill", requireRole("admin"), async (c) => {
    const { config } = c.var.caller;
    let raw: unknown;
    try {
      raw = await c.req.json();
    } catch {
      return apiError(c, 400, "invalid_body", "expected a JSON body {\"bucket\": \"…\", \"amount\": \"$5.00\"}");
    }
    const body = RefillBody.safeParse(raw);
    if (!body.success) return apiError(c, 400, "invalid_body", zodMessage(body.error));
    return withStore(c, async () => {
      const charge = await resolveCharge(body.data.bucket, deps.store, config);
      if ("error" in charge) return apiError(c, 404, "not_found", charge.error);
      const { before, after } = await deps.store.refill(charge, body.data.amount ?? null, c.var.identity.principal);
      const reserved = deps.store.reserved(charge.bucket);
      return c.json({
        added_nanos: after.balance - before.balance,
        before: describe(charge.bucket, charge.quota, charge.def, before, reserved),
        bucket: describe(charge.bucket, charge.quota, charge.def, after, reserved),
      });
    });
  });
}
