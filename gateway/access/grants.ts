// Grant evaluation with Aperture's semantics: deny by default, the union of every matching grant, admin beats user.
// Each capability value is evaluated on its own: its quotas, guardrails and hooks apply when its `models` match the
// request's model, or always when it names no models ("floating").
import { GrantValue, type Grant, configGrants, grantCapabilities, ignoredGrantFields } from "../config/grants.js";

export { configGrants, grantCapabilities };
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
  /** Aperture fields keyless does not act on, per value that carries them ("tailnet: enable_chat_ui (…)"); the rest applies. */
  readonly ignored: readonly string[];
}

export function srcMatches(src: string, identity: Identity): boolean {
  if (src === "*") return true;
  if (src === LOOPBACK_PRINCIPAL) return identity.principal === LOOPBACK_PRINCIPAL;
  if (src.startsWith("tag:")) return src.includes(",") ? src === identity.principal : identity.tags.includes(src);
  if (src.startsWith("group:")) return identity.groups.includes(src);
  return identity.login !== null && src === identity.login;
}

export interface AccessOptions {
  /** Capability names whose values are grants (keyless's and Aperture's), each read the same way. */
  readonly capabilities: readonly string[];
  readonly configGrants: readonly Grant[];
  readonly useConfigGrants: boolean;
}

export function accessFor(identity: Identity, { capabilities, configGrants, useConfigGrants }: AccessOptions): Access {
  const values: GrantSource[] = [];
  const invalid: string[] = [];
  const ignored: string[] = [];
  const collect = (origin: string, raw: readonly unknown[]) => {
    for (const item of raw) {
      const parsed = GrantValue.safeParse(item);
      if (!parsed.success) {
        invalid.push(`${origin}: ${parsed.error.issues.map((i) => `${i.path.join(".") || "value"}: ${i.message}`).join("; ")}`);
        continue;
      }
      values.push({ origin, value: parsed.data });
      const skipped = ignoredGrantFields(parsed.data);
      if (skipped.length > 0) ignored.push(`${origin}: ${skipped.join(", ")}`);
    }
  };
  for (const capability of capabilities) {
    if (useConfigGrants) {
      configGrants.forEach((grant, i) => {
        if (grant.src.some((src) => srcMatches(src, identity))) collect(`config#${i}`, grant.app[capability] ?? []);
      });
    }
    collect("tailnet", identity.capMap[capability] ?? []);
  }
  let role: Role | null = null;
  for (const { value } of values) {
    if (value.role === "admin") role = "admin";
    else if (value.role === "user" && role === null) role = "user";
  }
  return { role, values, invalid, ignored };
}

type GrantsConfig = Pick<Config, "capability" | "aperture_capability" | "grants" | "temp_grants" | "config_grants">;

/** Access under a whole config: its capabilities, its grants, and whether config grants count. */
export function accessUnder(identity: Identity, config: GrantsConfig): Access {
  return accessFor(identity, { capabilities: grantCapabilities(config), configGrants: configGrants(config), useConfigGrants: config.config_grants });
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
