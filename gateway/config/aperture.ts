// Aperture configurations as they are: what keyless reads differently from an Aperture config (notes, warned about at
// load when keyless does not act on a field) and `keyless config import-aperture`, which writes the keyless-native
// equivalent with a comment on every line it changed. docs/aperture.md is the full table.
import { APERTURE_CAPABILITY, DEFAULT_CAPABILITY, IGNORED_GRANT_FIELDS, ignoredGrantFields } from "./grants.js";
import { parseHuJson } from "./load.js";
import { API_VERSION_SUFFIX, type ProviderType, inferProviderType } from "./providers.js";

/** Top-level Aperture sections keyless accepts and does not act on, and why. */
export const IGNORED_SECTIONS = {
  exporters: "keyless has no S3 exporter; captures stay in its database (GET /api/requests reads them)",
  model_cost_map: "keyless prices from its price table; write overrides under `prices`",
  auto_cost_basis: "keyless always prices by the provider type's price table",
} as const satisfies Record<string, string>;

/** Aperture's cost_basis each provider type prices as (provider-compatibility); any other basis is not followed. */
const NATURAL_COST_BASIS: Readonly<Record<ProviderType, string>> = { anthropic: "anthropic", openai: "openai", gemini: "google", vertex: "vertex", bedrock: "bedrock" };

type Path = readonly (string | number)[];

export interface ApertureNote {
  readonly path: Path;
  readonly message: string;
  /** Shown at load: keyless does not do what the field asks. Other notes only say how a field is read. */
  readonly warn: boolean;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const text = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

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
    const keyed = inferred !== null && (type === "anthropic" || type === "openai" || type === "gemini");
    if (keyed && (text(entry.apikey) ?? "") === "" && (entry.auth_mode === undefined || entry.auth_mode === "" || entry.auth_mode === "override")) {
      notes.push({ path: ["providers", name, "apikey"], message: 'no key: its requests are refused with 503 until one is set (auth_mode "none" for servers that take none, "passthrough" for callers with their own)', warn: true });
    }
    const basis = text(entry.cost_basis);
    if (type && basis !== undefined && basis !== NATURAL_COST_BASIS[type]) {
      notes.push({ path: ["providers", name, "cost_basis"], message: `ignored: keyless prices "${type}" providers from the ${NATURAL_COST_BASIS[type]} price table, not "${basis}" (override prices under \`prices\`)`, warn: true });
    }
  }
  const capabilities = [text(raw.capability) ?? DEFAULT_CAPABILITY, text(raw.aperture_capability) ?? APERTURE_CAPABILITY].filter((c) => c !== "");
  notes.push(...grantNotes(raw, "grants", capabilities), ...grantNotes(raw, "temp_grants", capabilities));
  const retention = isObject(raw.database) ? raw.database.retention : undefined;
  if (isObject(retention)) {
    if (retention.require_export === true) notes.push({ path: ["database", "retention", "require_export"], message: "keyless has no exporter: with require_export nothing is ever exported, so nothing is purged", warn: true });
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

const key = (path: Path) => path.join("\u0000");

/** What the import changed: a comment before a kept line, or a comment where a field was removed. */
interface Changes {
  readonly before: Map<string, string[]>;
  readonly removed: Map<string, string[]>;
}

function note(map: Map<string, string[]>, path: Path, message: string): void {
  const k = key(path);
  map.set(k, [...(map.get(k) ?? []), message]);
}

function removeField(obj: Json, field: string, path: Path, why: string, changes: Changes): void {
  if (!(field in obj)) return;
  delete obj[field];
  note(changes.removed, path, `removed "${field}": ${why}`);
}

function convertGrants(grants: unknown, section: Path, capabilities: readonly string[], changes: Changes): void {
  if (!Array.isArray(grants)) return;
  grants.forEach((grant, i) => {
    if (!isObject(grant) || !isObject(grant.app)) return;
    for (const cap of capabilities) {
      const values = grant.app[cap];
      if (!Array.isArray(values)) continue;
      values.forEach((value, j) => {
        if (!isObject(value)) return;
        for (const [field, why] of Object.entries(IGNORED_GRANT_FIELDS)) removeField(value, field, [...section, i, "app", cap, j], why, changes);
      });
    }
  });
}

/** The keyless-native equivalent of an Aperture config value, and what was changed where. */
function convert(raw: Json): { value: Json; changes: Changes } {
  const value = structuredClone(raw);
  const changes: Changes = { before: new Map(), removed: new Map() };
  if (!("identity" in value)) {
    value.identity = { type: "tailscale" };
    note(changes.before, ["identity"], "added: Aperture identifies callers by tailnet WhoIs; keyless does through the local tailscaled");
  }
  for (const [section, why] of Object.entries(IGNORED_SECTIONS)) removeField(value, section, [], why, changes);
  for (const [name, entry] of Object.entries(isObject(value.providers) ? value.providers : {})) {
    if (!isObject(entry)) continue;
    const path = ["providers", name];
    const inferred = inferProviderType(entry);
    if (inferred) {
      // "type" first, where a reader looks for it.
      const rest = { ...entry };
      for (const k of Object.keys(entry)) delete entry[k];
      Object.assign(entry, { type: inferred.type }, rest);
      note(changes.before, [...path, "type"], `added: Aperture entries have no type; taken from ${inferred.because}`);
    }
    const baseurl = text(entry.baseurl);
    if (baseurl && API_VERSION_SUFFIX.test(baseurl)) {
      entry.baseurl = baseurl.replace(/\/+$/, "").replace(API_VERSION_SUFFIX, "");
      note(changes.before, [...path, "baseurl"], `was "${baseurl}": keyless appends the API version itself`);
    }
    const type = text(entry.type) as ProviderType | undefined;
    if (type && text(entry.cost_basis) !== undefined && entry.cost_basis !== NATURAL_COST_BASIS[type]) {
      removeField(entry, "cost_basis", path, `keyless prices "${type}" providers from the ${NATURAL_COST_BASIS[type]} price table (override under \`prices\`)`, changes);
    }
  }
  const capabilities = [text(value.capability) ?? DEFAULT_CAPABILITY, text(value.aperture_capability) ?? APERTURE_CAPABILITY].filter((c) => c !== "");
  convertGrants(value.grants, ["grants"], capabilities, changes);
  if (Array.isArray(value.temp_grants)) {
    const first = Array.isArray(value.grants) ? value.grants.length : 0;
    convertGrants(value.temp_grants, ["temp_grants"], capabilities, changes);
    // Moved under grants; their removal notes move with them.
    for (const [k, messages] of [...changes.removed]) {
      const [section, i, ...rest] = k.split("\u0000");
      if (section !== "temp_grants") continue;
      changes.removed.delete(k);
      for (const m of messages) note(changes.removed, ["grants", first + Number(i), ...rest], m);
    }
    value.grants = [...(Array.isArray(value.grants) ? value.grants : []), ...value.temp_grants];
    delete value.temp_grants;
    note(changes.before, ["grants"], "Aperture's temp_grants moved here (keyless evaluates both the same way)");
  }
  if (isObject(value.database) && isObject(value.database.retention)) {
    const retention = value.database.retention;
    const duration = retention.require_export === true ? "" : (text(retention.duration) ?? "");
    value.database.retention = duration;
    const was = JSON.stringify(retention);
    note(changes.before, ["database", "retention"], `was ${was}: ${retention.require_export === true ? "keyless has no exporter, so require_export keeps everything" : "captures are purged after the duration"}${Array.isArray(retention.purge) && retention.purge.includes("tools") ? "; tool-call rows are always kept" : ""}`);
  }
  return { value, changes };
}

function render(value: unknown, path: Path, indent: string, changes: Changes): string {
  const inner = `${indent}  `;
  const comments = (p: Path) => (changes.before.get(key(p)) ?? []).map((c) => `${inner}// ${c}\n`).join("");
  const removed = (changes.removed.get(key(path)) ?? []).map((c) => `${inner}// ${c}\n`).join("");
  if (Array.isArray(value)) {
    if (value.every((v) => typeof v !== "object" || v === null) && removed === "") return JSON.stringify(value).replace(/","/g, '", "');
    const items = value.map((v, i) => `${comments([...path, i])}${inner}${render(v, [...path, i], inner, changes)},\n`).join("");
    return `[\n${items}${removed}${indent}]`;
  }
  if (isObject(value)) {
    const entries = Object.entries(value).map(([k, v]) => `${comments([...path, k])}${inner}${JSON.stringify(k)}: ${render(v, [...path, k], inner, changes)},\n`).join("");
    return entries === "" && removed === "" ? "{}" : `{\n${entries}${removed}${indent}}`;
  }
  return JSON.stringify(value);
}

/** `keyless config import-aperture`: the keyless config equivalent to an Aperture config's text (HuJSON). */
export function importAperture(source: string): string {
  const raw = parseHuJson(source);
  if (!isObject(raw)) throw new Error("an Aperture config is a JSON object");
  const { value, changes } = convert(raw);
  return `// Imported from an Aperture config by keyless config import-aperture; comments mark every change.\n${render(value, [], "", changes)}\n`;
}
