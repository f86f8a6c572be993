// Aperture configurations as they are: what keyless reads differently from an Aperture config (notes, warned about at
// load when keyless does not act on a field). import-aperture.ts writes the keyless-native equivalent; docs/aperture.md
// is the full table.
import { APERTURE_CAPABILITY, DEFAULT_CAPABILITY, ignoredGrantFields } from "./grants.js";
import { API_VERSION_SUFFIX, COST_BASES, type CostBasis, type ProviderType, fromApertureCloud, inferProviderType } from "./providers.js";

/** Top-level Aperture sections keyless accepts and does not act on, and why. */
export const IGNORED_SECTIONS = {
  exporters: "keyless exports with its own `export` section (gzip JSON Lines, docs/deploy.md), not Aperture's exporters",
  model_cost_map: "keyless prices from its price table; write overrides under `prices`",
  auto_cost_basis: "keyless prices by the provider's cost_basis, else its type's price table",
  connectors: "keyless has no MCP or HTTP connectors: /v1/mcp and /v1/connectors/ answer 501 (docs/aperture.md)",
  mcp: "keyless has no MCP proxy: /v1/mcp answers 501 (docs/aperture.md)",
  flags: "Aperture's feature flags switch Aperture features; keyless has none to switch",
} as const satisfies Record<string, string>;

/** Aperture's cost_basis each provider type prices as without one (provider-compatibility). */
export const NATURAL_COST_BASIS: Readonly<Record<ProviderType, string>> = { anthropic: "anthropic", openai: "openai", gemini: "google", vertex: "vertex", bedrock: "bedrock" };

export type Path = readonly (string | number)[];

export interface ApertureNote {
  readonly path: Path;
  readonly message: string;
  /** Shown at load: keyless does not do what the field asks. Other notes only say how a field is read. */
  readonly warn: boolean;
}

export type Json = Record<string, unknown>;
export const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
export const text = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

function grantNotes(raw: Json, section: "grants" | "temp_grants", capabilities: readonly string[]): ApertureNote[] {
  const grants = Array.isArray(raw[section]) ? raw[section] : [];
  return grants.flatMap((grant, i) => {
    if (!isObject(grant) || !isObject(grant.app)) return [];
    const app = grant.app;
    return capabilities.flatMap((cap) =>
      (Array.isArray(app[cap]) ? app[cap] : []).flatMap((value, j) =>
        isObject(value) ? ignoredGrantFields(value).map((field) => ({ path: [section, i, "app", cap, j, field.split(" ")[0]!], message: `ignored: ${field}`, warn: true })) : [],
      ),
    );
  });
}

/** Everything keyless reads differently from Aperture in a config value (after ${ENV} substitution). */
export function apertureNotes(raw: unknown): ApertureNote[] {
  if (!isObject(raw)) return [];
  const notes: ApertureNote[] = [];
  for (const [section, why] of Object.entries(IGNORED_SECTIONS)) {
    if (section in raw) notes.push({ path: [section], message: `ignored: ${why}`, warn: true });
  }
  if ("temp_grants" in raw) notes.push({ path: ["temp_grants"], message: "Aperture's temp_grants: evaluated as config grants, after `grants`", warn: false });
  for (const [name, entry] of Object.entries(isObject(raw.providers) ? raw.providers : {})) {
    if (!isObject(entry)) continue;
    const inferred = inferProviderType(entry);
    if (inferred) notes.push({ path: ["providers", name, "type"], message: `no type: read as "${inferred.type}" (from ${inferred.because})`, warn: false });
    const baseurl = text(entry.baseurl);
    if (baseurl && API_VERSION_SUFFIX.test(baseurl)) {
      notes.push({ path: ["providers", name, "baseurl"], message: `"${baseurl}": the trailing API version is dropped, keyless appends it to every path`, warn: true });
    }
    const type = (inferred?.type ?? text(entry.type)) as ProviderType | undefined;
    // Aperture warns at startup about an entry without a key; keyless-native entries document their 503 instead.
    if (inferred !== null && (text(entry.apikey) ?? "") === "" && (entry.auth_mode === undefined || entry.auth_mode === "" || entry.auth_mode === "override")) {
      const cloud = type === "vertex" || type === "bedrock";
      const others = cloud ? "" : ' (auth_mode "none" for servers that take none, "passthrough" for callers with their own)';
      notes.push({ path: ["providers", name, "apikey"], message: `no key: its requests are refused with 503 until one is set${others}`, warn: true });
    }
    if (inferred?.type === "vertex" || inferred?.type === "bedrock") {
      for (const change of fromApertureCloud(inferred.type, entry).changes) notes.push({ path: ["providers", name, change.field], message: change.message, warn: false });
    }
    const basis = text(entry.cost_basis);
    if (type && basis !== undefined && basis in COST_BASES && COST_BASES[basis as CostBasis] === null) {
      notes.push({ path: ["providers", name, "cost_basis"], message: `keyless has no "${basis}" price table: priced from the ${NATURAL_COST_BASIS[type]} table (override prices under \`prices\`)`, warn: true });
    }
    if (text(entry.name) !== undefined) notes.push({ path: ["providers", name, "name"], message: "ignored: keyless names a provider by its config key (requests, /metrics, the UI)", warn: true });
  }
  const capabilities = [text(raw.capability) ?? DEFAULT_CAPABILITY, text(raw.aperture_capability) ?? APERTURE_CAPABILITY].filter((c) => c !== "");
  notes.push(...grantNotes(raw, "grants", capabilities), ...grantNotes(raw, "temp_grants", capabilities));
  const retention = isObject(raw.database) ? raw.database.retention : undefined;
  if (isObject(retention)) {
    if (retention.require_export === true && raw.export === undefined) notes.push({ path: ["database", "retention", "require_export"], message: "no `export` section: with require_export nothing is ever exported, so nothing is purged", warn: true });
    if (Array.isArray(retention.purge) && retention.purge.includes("tools")) {
      notes.push({ path: ["database", "retention", "purge"], message: 'ignored: "tools": tool-call rows are kept (check runs and session reports read them); captures are purged', warn: true });
    }
  }
  return notes;
}

/** Load warnings: the notes about fields keyless does not act on, as "path: message". */
export function apertureWarnings(raw: unknown): string[] {
  return apertureNotes(raw)
    .filter((n) => n.warn)
    .map((n) => `${n.path.join(".")}: ${n.message}`);
}

