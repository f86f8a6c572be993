// Request, token and concurrency limits beside the dollar quotas, in the same bucket store (so replicas sharing a
// PostgreSQL store share the limits too). Each limit is a token bucket counted in its own unit: `requests` holds that
// many requests refilled evenly over `per`, `tokens` holds input + output tokens (a request holds its estimate and
// gives back what its usage did not take), `concurrent` holds slots that never refill and are given back when the
// request ends. A refusal is the provider's own 429 with Retry-After and the rate-limit headers its SDK reads.
import type { RateLimitDefinition } from "../config/rate-limits.js";
import type { Config } from "../config/schema.js";
import type { QuotaDefinition } from "../config/quotas.js";
import type { Pricer } from "../pricing/prices.js";
import { type Denial, type Exchange, type ExchangePlugin, type Outcome, stateSlot } from "../proxy/exchange.js";
import { type BucketShortfall, type BucketStore, BucketStoreUnavailable, type Charge } from "./bucket-store.js";
import { expandBucket, templateValues } from "./buckets.js";
import { estimateCost } from "./estimate.js";

export const RATE_LIMIT_PLUGIN = "rate_limit";
/** Bucket rows of rate limits carry this quota prefix, so budget views can tell them from dollar buckets. */
export const RATE_LIMIT_QUOTA_PREFIX = "rate:";
/** Who the store's refill audit names when a rate limit gives units back. */
const GIVE_BACK = "(rate limit)";

type Kind = "concurrent" | "requests" | "tokens";
const KINDS: readonly Kind[] = ["concurrent", "requests", "tokens"];

interface Held {
  readonly kind: Kind;
  readonly charge: Charge;
  readonly amount: number;
}

/** What a request holds of each limit until it ends. */
const HELD = stateSlot<Held[]>(RATE_LIMIT_PLUGIN);

/** A limit as a bucket definition in its own unit (QuotaDefinition's "nanos" are requests, tokens or slots here). */
function bucketDef(def: RateLimitDefinition, kind: Kind): QuotaDefinition | null {
  const capacity = def[kind];
  if (capacity === undefined) return null;
  const nanos = kind === "concurrent" ? 0 : capacity;
  return { capacity, rate: { nanos, periodMs: def.per, text: `${nanos}/${def.per}ms` }, on_exceed: "reject", admission: "reserve", alerts: [] };
}

/** Tokens a request may use: its body at 4 bytes a token (tokenizers' average) plus every output token it allows. */
function tokenEstimate(ex: Exchange, pricer: Pricer, config: Config): number {
  const bytes = JSON.stringify(ex.body ?? null).length;
  return Math.ceil(bytes / 4) + estimateCost(ex, pricer, config.quota_estimate).outputTokens;
}

function perText(ms: number): string {
  return ms % 60_000 === 0 ? (ms === 60_000 ? "minute" : `${ms / 60_000} minutes`) : `${ms / 1000}s`;
}

/** The 429: Retry-After for every SDK, plus Anthropic's or OpenAI's rate-limit headers for the limit that refused. */
export function rateLimitDenial(ex: Exchange, kind: Kind, short: readonly BucketShortfall[], def: RateLimitDefinition, now: number): Denial {
  const s = short[0]!;
  const waits = short.map((b) => b.retryAfter);
  const never = kind !== "concurrent" && waits.some((w) => w === null);
  const wait = kind === "concurrent" ? 1 : Math.max(...waits.map((w) => w ?? 0));
  const headers: Record<string, string> = {};
  const limit = kind === "concurrent" ? `${s.capacity} concurrent requests` : `${s.capacity} ${kind} per ${perText(def.per)}`;
  let message = `rate limit exceeded: bucket "${s.bucket.replace(/#[a-z]+$/, "")}" allows ${limit}`;
  if (never) {
    message += kind === "tokens" ? "; this request may use more tokens than the limit ever allows: lower max_tokens" : "";
    headers["x-should-retry"] = "false";
  } else {
    headers["retry-after"] = String(wait);
    message += `; retry in ${wait}s`;
    if (kind !== "concurrent") {
      const reset = new Date(now + wait * 1000).toISOString();
      const remaining = String(Math.max(0, s.balance));
      if (ex.format.id === "openai-chat" || ex.format.id === "openai-responses") {
        headers[`x-ratelimit-limit-${kind}`] = String(s.capacity);
        headers[`x-ratelimit-remaining-${kind}`] = remaining;
        headers[`x-ratelimit-reset-${kind}`] = `${wait}s`;
      } else if (ex.format.id === "anthropic-messages" || ex.format.id === "bedrock-invoke") {
        headers[`anthropic-ratelimit-${kind}-limit`] = String(s.capacity);
        headers[`anthropic-ratelimit-${kind}-remaining`] = remaining;
        headers[`anthropic-ratelimit-${kind}-reset`] = reset;
      }
    }
  }
  return { kind: "rate_limit", category: "rate_limit", message, headers };
}

/** What each held unit gives back when the request ends. */
function giveBack(held: Held, outcome: Outcome): number {
  const refused = outcome.denial !== undefined && (outcome.denial.category !== "upstream" || outcome.denial.unsent === true);
  if (held.kind === "concurrent" || refused) return held.amount;
  if (held.kind === "requests") return 0;
  const u = outcome.summary.usage;
  if (!u) return 0;
  return Math.max(0, held.amount - (u.input + u.cacheRead + u.cacheWrite + u.output));
}

export interface RateLimitPluginDeps {
  readonly store: BucketStore;
  readonly pricer: Pricer;
  readonly now?: () => number;
  readonly onError: (err: unknown, context: string) => void;
}

export function rateLimitPlugin({ store, pricer, now = Date.now, onError }: RateLimitPluginDeps): ExchangePlugin {
  const release = (held: readonly Held[], outcome: Outcome) => {
    for (const h of held) {
      const amount = giveBack(h, outcome);
      if (amount > 0) Promise.resolve(store.refill(h.charge, amount, GIVE_BACK)).catch((err: unknown) => onError(err, "rate limit give-back"));
    }
  };
  return {
    name: RATE_LIMIT_PLUGIN,
    async before(ex: Exchange): Promise<Denial | void> {
      if (!ex.route.billable) return;
      // The limits as the caller was judged: a reload while this request waits does not change them.
      const { config } = ex.caller;
      const refs = ex.entitlement.rateLimits;
      if (refs.length === 0) return;
      const missing = refs.filter((r) => config.rate_limits[r.bucket] === undefined);
      if (missing.length > 0) {
        return { kind: "permission", category: "rate_limit", message: `access denied: grant references undefined rate limit (${missing.map((m) => `${m.origin}: ${m.bucket}`).join(", ")})` };
      }
      const values = templateValues(ex.identity, ex.session);
      const limits = new Map<string, { template: string; def: RateLimitDefinition }>();
      for (const r of refs) limits.set(expandBucket(r.bucket, values), { template: r.bucket, def: config.rate_limits[r.bucket]! });
      const held: Held[] = [];
      ex.state.set(HELD, held);
      for (const kind of KINDS) {
        const charges: { charge: Charge; def: RateLimitDefinition }[] = [];
        for (const [bucket, { template, def }] of limits) {
          const bdef = bucketDef(def, kind);
          if (bdef) charges.push({ charge: { bucket: `${bucket}#${kind}`, quota: `${RATE_LIMIT_QUOTA_PREFIX}${template}#${kind}`, def: bdef }, def });
        }
        if (charges.length === 0) continue;
        const amount = kind === "tokens" ? tokenEstimate(ex, pricer, config) : 1;
        let result;
        try {
          result = await store.reserve(charges.map((c) => [c.charge]), amount);
        } catch (err) {
          if (!(err instanceof BucketStoreUnavailable)) throw err;
          return { kind: "unavailable", category: "rate_limit", message: `rate limit check failed, request not forwarded: ${err.message}` };
        }
        if (!result.ok) {
          const first = result.short[0]!;
          const def = charges.find((c) => c.charge.bucket === first.bucket)?.def ?? charges[0]!.def;
          return rateLimitDenial(ex, kind, result.short, def, now());
        }
        held.push(...charges.map((c) => ({ kind, charge: c.charge, amount })));
      }
    },
    after(ex: Exchange, outcome: Outcome): void {
      const held = ex.state.get(HELD);
      if (!held) return;
      ex.state.delete(HELD);
      release(held, outcome);
    },
  };
}
