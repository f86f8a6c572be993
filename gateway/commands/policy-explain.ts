// `keyless policy explain`: for a principal and a model, which config grants match, the role, whether the model is
// allowed, and which buckets a request would be charged to, from the config alone (tailnet grants arrive per request
// in WhoIs and can be passed as --capmap).
import type { Config } from "../config/schema.js";
import { formatDollars } from "../config/units.js";
import { type Identity, LOOPBACK_PRINCIPAL } from "../identity/types.js";
import type { SessionRef } from "../proxy/exchange.js";
import { chargesFrom } from "../quotas/charges.js";
import { entitlementFor } from "../access/caller.js";
import { accessUnder, configGrants, grantCapabilities, modelKey, srcMatches } from "../access/grants.js";
import { globMatch } from "../config/glob.js";
import { findMapping, requiredTags } from "../github/repos.js";

export interface ExplainInput {
  /** A login, "tag:a" or "tag:a,tag:b" (a tagged node's tags), or "(loopback)". */
  readonly principal: string;
  /** "provider/model", or a bare model id (the first provider serving it is assumed). */
  readonly model: string;
  readonly groups?: readonly string[];
  readonly nodeId?: string;
  readonly session?: SessionRef | null;
  /** Tailnet grants the caller would bring (WhoIs CapMap). */
  readonly capMap?: Readonly<Record<string, readonly unknown[]>>;
}

export interface Explanation {
  readonly identity: Identity;
  readonly provider: string | null;
  readonly model: string;
  readonly modelKey: string;
  readonly grants: { origin: string; src: string[]; values: readonly unknown[] }[];
  readonly role: string | null;
  readonly allowed: boolean;
  /** Grant values whose `models` allow the model. */
  readonly allowedBy: string[];
  readonly buckets: { bucket: string; quota: string; capacity: string; rate: string }[];
  readonly undefinedQuotas: readonly string[];
  readonly notes: string[];
}

export function identityFor(principal: string, input: Pick<ExplainInput, "groups" | "nodeId" | "capMap"> = {}): Identity {
  const tags = principal.startsWith("tag:") ? principal.split(",").map((t) => t.trim()).sort() : [];
  const loopback = principal === LOOPBACK_PRINCIPAL;
  return {
    principal: tags.length > 0 ? tags.join(",") : principal,
    login: tags.length > 0 || loopback ? null : principal,
    nodeId: loopback ? null : (input.nodeId ?? "<node>"),
    nodeName: null,
    tags,
    groups: [...(input.groups ?? [])],
    capMap: input.capMap ?? {},
    addr: "explain",
  };
}

export type RepositoryRunner =
  | { readonly principal: string; readonly tags: string[]; readonly pattern: string; readonly session: SessionRef }
  | { readonly error: string };

/** A repository as explain sees it: the node its CI runner must be (the github.repos mapping's tags), in a session of it. */
export function repositoryRunner(config: Config, repository: string): RepositoryRunner {
  const match = findMapping(config.github?.repos ?? {}, repository, "-");
  if (!match) return { error: `repository ${repository} matches no github.repos mapping: its CI sessions are refused` };
  let tags: string[];
  try {
    tags = requiredTags(match.mapping, repository);
  } catch (err) {
    return { error: (err as Error).message };
  }
  const session: SessionRef = { id: "explain", repository, repositoryId: "-", prNumber: null, workflow: "-", runId: "-" };
  return { principal: tags.join(","), tags, pattern: match.pattern, session };
}

function resolveModel(config: Config, model: string): { provider: string | null; model: string } {
  const slash = model.indexOf("/");
  if (slash > 0 && config.providers[model.slice(0, slash)]) return { provider: model.slice(0, slash), model: model.slice(slash + 1) };
  const found = Object.entries(config.providers).find(([, p]) => p.models.some((g) => globMatch(g, model)));
  return { provider: found?.[0] ?? null, model };
}

export function explain(config: Config, input: ExplainInput): Explanation {
  const identity = identityFor(input.principal, input);
  const { provider, model } = resolveModel(config, input.model);
  const key = modelKey(provider ?? "?", model);
  const notes: string[] = [];
  if (!provider) notes.push(`no provider in the config serves "${model}": requests for it are refused before grants`);
  else if (!config.providers[provider]!.models.some((g) => globMatch(g, model))) notes.push(`provider ${provider} does not list "${model}" in its models`);
  if (!config.config_grants) notes.push("config_grants is false: only tailnet policy grants (WhoIs CapMap) apply");
  const access = accessUnder(identity, config);
  const capabilities = grantCapabilities(config);
  const valuesOf = (app: Readonly<Record<string, readonly unknown[]>>) => capabilities.flatMap((cap) => app[cap] ?? []);
  const grants: Explanation["grants"] = configGrants(config).flatMap((g, i) => {
    const src = g.src.filter((s) => srcMatches(s, identity));
    return config.config_grants && src.length > 0 ? [{ origin: `config#${i}`, src, values: valuesOf(g.app) }] : [];
  });
  if (Object.keys(identity.capMap).length > 0) grants.push({ origin: "tailnet", src: ["(capmap)"], values: valuesOf(identity.capMap) });
  for (const bad of access.invalid) notes.push(`ignored invalid grant value ${bad}`);
  for (const fields of access.ignored) notes.push(`Aperture fields keyless does not act on: ${fields}`);
  const allowedBy = access.values
    .filter(({ value }) => {
      const globs = value.models === undefined ? [] : typeof value.models === "string" ? [value.models] : value.models;
      return globs.some((g) => globMatch(g, key));
    })
    .map(({ origin, value }) => `${origin} (${typeof value.models === "string" ? value.models : value.models?.join(", ")})`);
  const entitlement = entitlementFor(access, key);
  const { lines, charges, undefinedRefs } = chargesFrom(entitlement.quotas, identity, input.session ?? null, config.quotas);
  if (!input.session && charges.some((c) => /<(repo|pr|workflow|run)>/.test(c.quota))) {
    notes.push("<repo>, <pr>, <workflow> and <run> expand to - without a CI session (pass --repo, --pr, --workflow, --run)");
  }
  if (entitlement.allowed && charges.length === 0 && undefinedRefs.length === 0) notes.push("no quota applies: spend is unlimited");
  const allowed = access.role !== null && provider !== null && entitlement.allowed;
  return {
    identity,
    provider,
    model,
    modelKey: key,
    grants,
    role: access.role,
    allowed,
    allowedBy,
    // A refused request reserves nothing.
    // One entry per line; an overdraft chain reads "primary → next".
    buckets: (allowed ? lines : []).map((line) => ({
      bucket: line.map((c) => c.bucket).join(" → "),
      quota: line.map((c) => c.quota).join(" → "),
      capacity: line.map((c) => formatDollars(c.def.capacity)).join(" → "),
      rate: line.map((c) => c.def.rate.text).join(" → "),
    })),
    undefinedQuotas: undefinedRefs,
    notes,
  };
}

export function formatExplanation(e: Explanation): string {
  const lines: string[] = [];
  const row = (label: string, text: string) => lines.push(`${label.padEnd(10)} ${text}`);
  row("principal", `${e.identity.principal}${e.identity.tags.length ? ` (tags ${e.identity.tags.join(" ")})` : ""}${e.identity.groups.length ? ` (groups ${e.identity.groups.join(" ")})` : ""}`);
  row("model", `${e.modelKey}${e.provider ? ` (provider ${e.provider})` : " (no provider)"}`);
  if (e.grants.length === 0) row("grants", "none match");
  e.grants.forEach((g, i) => row(i === 0 ? "grants" : "", `${g.origin} src ${g.src.join(" ")} → ${g.values.map((v) => JSON.stringify(v)).join(" ")}`));
  row("role", e.role ?? "none (every request is refused: access denied: no role granted)");
  row("access", e.allowed ? `allowed by ${e.allowedBy.join("; ")}` : e.role === null ? "denied: no role" : `denied: no grant allows ${e.modelKey}`);
  if (e.undefinedQuotas.length > 0) row("quotas", `REFUSED: grant references undefined quota (${e.undefinedQuotas.join(", ")})`);
  else if (!e.allowed) row("buckets", "none: the request is refused before any reservation");
  else if (e.buckets.length === 0) row("buckets", "none");
  e.buckets.forEach((b, i) => row(i === 0 ? "buckets" : "", `${b.bucket} (quota ${b.quota}: ${b.capacity}, refills ${b.rate})`));
  for (const note of e.notes) row("note", note);
  return `${lines.join("\n")}\n`;
}
