// Grant evaluation with Aperture's semantics: deny by default, the union of every matching grant, admin beats user.
// Each capability value is evaluated on its own: its quotas, guardrails and hooks apply when its `models` match the
// request's model, or always when it names no models ("floating").
import { GrantValue, type Grant } from "../config/grants.js";
import type { Config } from "../config/schema.js";
import type { Identity } from "../identity/types.js";
import { LOOPBACK_PRINCIPAL } from "../identity/types.js";
import { globMatch } from "../config/glob.js";

export type Role = "admin" | "user";

export interface GrantSource {
  /** "config#3" for the fourth config grant, "tailnet" for a WhoIs CapMap value. */
  readonly origin: string;
  readonly value: GrantValue;
}

export interface Access {
  readonly role: Role | null;
  /** Every capability value granted to the caller, in evaluation order. */
  readonly values: readonly GrantSource[];
  /** Capability values that could not be parsed (ignored: they grant nothing). */
  readonly invalid: readonly string[];
}

export function srcMatches(src: string, identity: Identity): boolean {
  if (src === "*") return true;
  if (src === LOOPBACK_PRINCIPAL) return identity.principal === LOOPBACK_PRINCIPAL;
  if (src.startsWith("tag:")) return src.includes(",") ? src === identity.principal : identity.tags.includes(src);
  if (src.startsWith("group:")) return identity.groups.includes(src);
  return identity.login !== null && src === identity.login;
}

export interface AccessOptions {
  readonly capability: string;
  readonly configGrants: readonly Grant[];
  readonly useConfigGrants: boolean;
}

export function accessFor(identity: Identity, { capability, configGrants, useConfigGrants }: AccessOptions): Access {
  const values: GrantSource[] = [];
  const invalid: string[] = [];
  const collect = (origin: string, raw: readonly unknown[]) => {
    for (const item of raw) {
      const parsed = GrantValue.safeParse(item);
      if (parsed.success) values.push({ origin, value: parsed.data });
      else invalid.push(`${origin}: ${parsed.error.issues.map((i) => `${i.path.join(".") || "value"}: ${i.message}`).join("; ")}`);
    }
  };
  if (useConfigGrants) {
    configGrants.forEach((grant, i) => {
      if (grant.src.some((src) => srcMatches(src, identity))) collect(`config#${i}`, grant.app[capability] ?? []);
    });
  }
  collect("tailnet", identity.capMap[capability] ?? []);
  let role: Role | null = null;
  for (const { value } of values) {
    if (value.role === "admin") role = "admin";
    else if (value.role === "user" && role === null) role = "user";
  }
  return { role, values, invalid };
}

/** Access under a whole config: its capability, its grants, and whether config grants count. */
export function accessUnder(identity: Identity, config: Pick<Config, "capability" | "grants" | "config_grants">): Access {
  return accessFor(identity, { capability: config.capability, configGrants: config.grants, useConfigGrants: config.config_grants });
}

function modelGlobs(value: GrantValue): readonly string[] | null {
  if (value.models === undefined) return null;
  return typeof value.models === "string" ? [value.models] : value.models;
}

/** "<provider>/<model>": the key grants' model globs are matched against. */
export function modelKey(provider: string, model: string): string {
  return `${provider}/${model}`;
}

export function allowsModel(access: Access, key: string): boolean {
  return access.values.some(({ value }) => modelGlobs(value)?.some((g) => globMatch(g, key)) ?? false);
}

/** Values that apply to a request for `key`: those whose models match, and the floating ones. */
export function applicableValues(access: Access, key: string): readonly GrantSource[] {
  return access.values.filter(({ value }) => {
    const globs = modelGlobs(value);
    return globs === null || globs.some((g) => globMatch(g, key));
  });
}

export function listAllowedModels(access: Access, keys: readonly string[]): string[] {
  return keys.filter((k) => allowsModel(access, k));
}
