// Which buckets a request is charged to: every quota of every grant value that applies to the model (Aperture:
// "collects and enforces all matching quotas together"), each template expanded for the caller, each bucket once.
import type { QuotasConfig } from "../config/quotas.js";
import type { Identity } from "../identity/types.js";
import { type Access, type GrantSource, applicableValues } from "../policy/grants.js";
import type { SessionRef } from "../proxy/exchange.js";
import { expandBucket, templateValues } from "./buckets.js";
import type { Charge } from "./store.js";

export interface ResolvedCharges {
  readonly charges: readonly Charge[];
  /** "<origin>: <bucket>" for references to quotas the config does not define (tailnet grants are not validated at load). */
  readonly undefinedRefs: readonly string[];
}

export function chargesFrom(values: readonly GrantSource[], identity: Identity, session: SessionRef | null, quotas: QuotasConfig): ResolvedCharges {
  const expansions = templateValues(identity, session);
  const charges = new Map<string, Charge>();
  const undefinedRefs: string[] = [];
  for (const { origin, value } of values) {
    for (const ref of value.quotas ?? []) {
      const def = quotas[ref.bucket];
      if (!def) {
        undefinedRefs.push(`${origin}: ${ref.bucket}`);
        continue;
      }
      const bucket = expandBucket(ref.bucket, expansions);
      if (!charges.has(bucket)) charges.set(bucket, { bucket, quota: ref.bucket, def });
    }
  }
  return { charges: [...charges.values()], undefinedRefs };
}

/** The buckets a request for `modelKey` is charged to. */
export function chargesFor(access: Access, modelKey: string, identity: Identity, session: SessionRef | null, quotas: QuotasConfig): ResolvedCharges {
  return chargesFrom(applicableValues(access, modelKey), identity, session, quotas);
}
