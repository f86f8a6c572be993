// Which buckets a request is charged to: every quota of every grant value that applies to the model (Aperture:
// "collects and enforces all matching quotas together"), each template expanded for the caller. A reference with
// `overdraft` is one line, a chain; lines are charged in parallel, each distinct line once.
import type { QuotasConfig } from "../config/quotas.js";
import type { Identity } from "../identity/types.js";
import type { QuotaGrant } from "../access/caller.js";
import type { SessionRef } from "../proxy/exchange.js";
import { expandBucket, templateValues } from "./buckets.js";
import type { Charge, Line } from "./bucket-store.js";

export interface ResolvedCharges {
  readonly lines: readonly Line[];
  /** Every bucket of every line, once. */
  readonly charges: readonly Charge[];
  /** "<origin>: <bucket>" for references to quotas the config does not define (tailnet grants are not validated at load). */
  readonly undefinedRefs: readonly string[];
}

/** The lines for quota references (an entitlement's, or every one a caller holds). */
export function chargesFrom(grants: readonly QuotaGrant[], identity: Identity, session: SessionRef | null, quotas: QuotasConfig): ResolvedCharges {
  const expansions = templateValues(identity, session);
  const lines = new Map<string, Line>();
  const undefinedRefs: string[] = [];
  for (const { origin, ref } of grants) {
    const names = [ref.bucket, ...(ref.overdraft ?? [])];
    const missing = names.filter((n) => quotas[n] === undefined);
    if (missing.length > 0) {
      undefinedRefs.push(...missing.map((n) => `${origin}: ${n}`));
      continue;
    }
    const line = names.map((quota): Charge => ({ bucket: expandBucket(quota, expansions), quota, def: quotas[quota]! }));
    // A chain naming one bucket twice would lend to itself.
    const unique = line.filter((c, i) => line.findIndex((d) => d.bucket === c.bucket) === i);
    const key = unique.map((c) => c.bucket).join("\u0000");
    if (!lines.has(key)) lines.set(key, unique);
  }
  const charges = new Map<string, Charge>();
  for (const line of lines.values()) for (const c of line) if (!charges.has(c.bucket)) charges.set(c.bucket, c);
  return { lines: [...lines.values()], charges: [...charges.values()], undefinedRefs };
}
