// The caller of a request, worked out once: who it is, the config snapshot it is judged under, its role, and per
// requested model what its grants entitle it to (quota lines, rate limits, guardrail actions, hooks, extra headers).
// Features read this value; none re-reads the config or re-filters grant values.
// Identity and config are both immutable, so a caller is computed once per pair (WhoIs identities are cached per
// connection: a keep-alive connection evaluates its grants once).
import type { GuardrailAction, HookSend, QuotaRef } from "../config/grants.js";
import type { Config } from "../config/schema.js";
import type { Identity } from "../identity/types.js";
import { type Access, type Role, accessUnder, allowsModel, applicableValues, modelKey } from "./grants.js";

/** One quota reference of one grant value, with where the value came from ("config#2", "tailnet"). */
export interface QuotaGrant {
  readonly origin: string;
  readonly ref: QuotaRef;
}

/** One rate limit a grant value attaches (config `rate_limits`, read from the caller's snapshot), with its origin. */
export interface RateLimitGrant {
  readonly origin: string;
  readonly bucket: string;
}

/** A hook a grant value asks to send, with the events it names (empty: the hook's defaults). */
export interface HookGrant {
  readonly name: string;
  readonly events: readonly string[];
  /** Aperture's payload selection; absent: keyless's full payload. */
  readonly send?: readonly HookSend[];
}

/** What the caller may do with one model: the grant values that apply to it, already picked apart. */
export interface Entitlement {
  /** "<provider>/<model>", what grants' model globs match. */
  readonly modelKey: string;
  /** Some grant value names this model. */
  readonly allowed: boolean;
  readonly quotas: readonly QuotaGrant[];
  readonly rateLimits: readonly RateLimitGrant[];
  /** Per-grant guardrail overrides: rule id, category or "default" → action. */
  readonly guardrails: readonly Readonly<Record<string, GuardrailAction>>[];
  readonly hooks: readonly HookGrant[];
  /** "Name: value" lines added to the upstream request. */
  readonly addHeaders: readonly string[];
}

export interface Caller {
  readonly identity: Identity;
  /** The config this request is judged under, start to end, even when a reload swaps the running one. */
  readonly config: Config;
  readonly access: Access;
  readonly role: Role | null;
  /** Admins, and callers a grant lets read /metrics. */
  readonly readsMetrics: boolean;
  entitlement(provider: string, model: string): Entitlement;
}

/** Entitlements kept per caller; beyond this many distinct models they are computed each time (model names are caller input). */
const MAX_REMEMBERED_MODELS = 64;

export function quotaGrants(values: Access["values"]): QuotaGrant[] {
  return values.flatMap(({ origin, value }) => (value.quotas ?? []).map((ref) => ({ origin, ref })));
}

export function entitlementFor(access: Access, key: string): Entitlement {
  const values = applicableValues(access, key);
  return {
    modelKey: key,
    allowed: allowsModel(access, key),
    quotas: quotaGrants(values),
    rateLimits: values.flatMap(({ origin, value }) => (value.rate_limits ?? []).map(({ bucket }) => ({ origin, bucket }))),
    guardrails: values.flatMap(({ value }) => (value.guardrails ? [value.guardrails] : [])),
    hooks: values.flatMap(({ value }) => value.send_hooks ?? []),
    addHeaders: values.flatMap(({ value }) => value.add_headers ?? []),
  };
}

export function callerUnder(identity: Identity, config: Config): Caller {
  const access = accessUnder(identity, config);
  const remembered = new Map<string, Entitlement>();
  return Object.freeze({
    identity,
    config,
    access,
    role: access.role,
    readsMetrics: access.role === "admin" || access.values.some(({ value }) => value.read_metrics === true),
    entitlement(provider: string, model: string): Entitlement {
      const key = modelKey(provider, model);
      const known = remembered.get(key);
      if (known) return known;
      const fresh = Object.freeze(entitlementFor(access, key));
      if (remembered.size < MAX_REMEMBERED_MODELS) remembered.set(key, fresh);
      return fresh;
    },
  });
}

/** Distinct warnings remembered, so a tailnet grant's ignored Aperture fields are logged once, not per connection. */
const MAX_WARNED = 1000;

export class CallerCache {
  private readonly byConfig = new WeakMap<Config, WeakMap<Identity, Caller>>();
  private readonly warned = new Set<string>();

  /** `warn` hears each tailnet grant value whose Aperture fields keyless ignores (the rest of the value applies). */
  constructor(private readonly warn: (message: string) => void = () => undefined) {}

  get(identity: Identity, config: Config): Caller {
    let byIdentity = this.byConfig.get(config);
    if (!byIdentity) {
      byIdentity = new WeakMap();
      this.byConfig.set(config, byIdentity);
    }
    let caller = byIdentity.get(identity);
    if (!caller) {
      caller = callerUnder(identity, config);
      byIdentity.set(identity, caller);
      // Config grants were warned about at load; the tailnet policy's values are seen only here.
      for (const fields of caller.access.ignored.filter((f) => f.startsWith("tailnet:"))) this.warnOnce(`grant of ${identity.principal}: Aperture fields keyless does not act on: ${fields}`);
    }
    return caller;
  }

  private warnOnce(message: string): void {
    if (this.warned.has(message) || this.warned.size >= MAX_WARNED) return;
    this.warned.add(message);
    this.warn(message);
  }
}
