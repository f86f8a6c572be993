// Budget burn-down: each bucket's balance over the window, rebuilt from what the store records (the charges settled on
// it and the admins' refills) and its quota's capacity and refill rate, with the gateway's own bucket arithmetic. A
// bucket starts full at its first charge. Charges are summed per slot and applied at the first charge of the slot:
// below capacity the refill is linear, so that moves nothing; only a bucket that was full meanwhile reads slightly high.
import { sql } from "kysely";
import type { QuotaDefinition } from "../config/quotas.js";
import { type BucketState, adjust, freshBucket, refill } from "../quotas/buckets.js";
import type { Store } from "../store/db.js";
import { MAX_POINTS, MAX_SERIES, type StatsResponse } from "../ui/schemas/stats.js";
import { type Window, slotOf, zeros } from "./window.js";

export interface BucketRef {
  readonly bucket: string;
  readonly quota: string;
  readonly def: QuotaDefinition;
}

interface Event {
  readonly bucket: string;
  readonly at: number;
  /** Nanodollars taken (a charge) or, negative, given back (a refill). */
  readonly taken: number;
}

/** Charges and refills of `buckets` in [from, to), summed per `step`-wide slot, each at its slot's first time. */
async function events(store: Store, buckets: readonly string[], from: number, to: number, step: number): Promise<Event[]> {
  if (buckets.length === 0 || from >= to) return [];
  const slot = (column: string) => sql<number>`${sql.ref(column)} / ${sql.lit(step)}`;
  const charges = await store.db
    .selectFrom("quota_charges")
    .select(["bucket", slot("ts").as("slot"), sql<number>`MIN(ts)`.as("at"), sql<number>`SUM(charged_nanos)`.as("n")])
    .where("bucket", "in", buckets)
    .where("ts", ">=", from)
    .where("ts", "<", to)
    .groupBy(["bucket", sql`2`])
    .execute();
  const refills = await store.db
    .selectFrom("quota_refills")
    .select(["bucket", slot("ts").as("slot"), sql<number>`MIN(ts)`.as("at"), sql<number>`SUM(amount_nanos)`.as("n")])
    .where("bucket", "in", buckets)
    .where("ts", ">=", from)
    .where("ts", "<", to)
    .groupBy(["bucket", sql`2`])
    .execute();
  return [...charges.map((c) => ({ bucket: c.bucket, at: c.at, taken: c.n })), ...refills.map((r) => ({ bucket: r.bucket, at: r.at, taken: -r.n }))];
}

/** The buckets an admin sees: those charged in the window, the most charged first, at most MAX_SERIES. */
export async function chargedBuckets(store: Store, w: Window, quotas: Readonly<Record<string, QuotaDefinition>>): Promise<BucketRef[]> {
  const rows = await store.db
    .selectFrom("quota_charges")
    .select(["bucket", "quota", sql<number>`SUM(charged_nanos)`.as("n")])
    .where("ts", ">=", w.from)
    .where("ts", "<", w.to)
    .groupBy(["bucket", "quota"])
    .orderBy(sql`3`, "desc")
    .orderBy("bucket")
    .execute();
  const out: BucketRef[] = [];
  for (const r of rows) {
    const def = quotas[r.quota];
    if (def && !out.some((b) => b.bucket === r.bucket)) out.push({ bucket: r.bucket, quota: r.quota, def });
  }
  return out.slice(0, MAX_SERIES);
}

export async function burnDown(store: Store, w: Window, refs: readonly BucketRef[], now: number): Promise<StatsResponse["budgets"]> {
  const names = refs.slice(0, MAX_SERIES).map((r) => r.bucket);
  if (names.length === 0) return [];
  const firsts = await store.db
    .selectFrom("quota_charges")
    .select(sql<number>`MIN(ts)`.as("first"))
    .where("bucket", "in", names)
    .executeTakeFirst();
  const first = firsts?.first ?? w.from;
  // History before the window only sets the balance it starts with: read in at most MAX_POINTS coarse slots.
  const coarse = Math.max(w.step, Math.ceil((w.from - first) / MAX_POINTS));
  const all = [...(await events(store, names, first, w.from, coarse)), ...(await events(store, names, w.from, w.to, w.step))].sort((a, b) => a.at - b.at);
  return refs.slice(0, MAX_SERIES).map((ref) => {
    const mine = all.filter((e) => e.bucket === ref.bucket);
    const charged = zeros(w);
    for (const e of mine) if (e.at >= w.from && e.taken > 0) charged[slotOf(w, e.at)]! += e.taken;
    let state: BucketState | null = null;
    let next = 0;
    const balance = w.times.map((start) => {
      if (start > now) return null;
      const end = Math.min(start + w.step, w.to, now);
      for (; next < mine.length && mine[next]!.at < end; next++) {
        const e = mine[next]!;
        state = adjust(refill(state ?? freshBucket(ref.def, e.at), ref.def, e.at), ref.def, -e.taken);
      }
      return state === null ? ref.def.capacity : refill(state, ref.def, end).balance;
    });
    return { bucket: ref.bucket, quota: ref.quota, capacity_nanos: ref.def.capacity, rate: ref.def.rate.text, charged_nanos: charged, balance_nanos: balance };
  });
}
