// Singleton jobs across replicas sharing a store (retention): a named lease one replica holds until it lapses, taken
// with one conditional upsert so two replicas can never both hold it.
import type { Store } from "./db.js";

/** Takes or renews `name` for `ttlMs`; true when `holder` has it now. */
export async function takeLease(store: Store, name: string, holder: string, now: number, ttlMs: number): Promise<boolean> {
  const result = await store.db
    .insertInto("leases")
    .values({ name, holder, until: now + ttlMs })
    .onConflict((oc) =>
      oc
        .column("name")
        .doUpdateSet({ holder, until: now + ttlMs })
        .where((eb) => eb.or([eb("leases.until", "<", now), eb("leases.holder", "=", holder)])),
    )
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
}
