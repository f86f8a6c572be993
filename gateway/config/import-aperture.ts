// `keyless config import-aperture`: the keyless-native equivalent of an Aperture config, with a comment on every line
// it changed (what aperture.ts reads differently, made explicit).
import { type Json, IGNORED_SECTIONS, type Path, isObject, text } from "./aperture.js";
import { APERTURE_CAPABILITY, DEFAULT_CAPABILITY, IGNORED_GRANT_FIELDS } from "./grants.js";
import { parseHuJson } from "./load.js";
import { API_VERSION_SUFFIX, COST_BASES, type CostBasis, fromApertureCloud, inferProviderType } from "./providers.js";

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
      const cloud = inferred.type === "vertex" || inferred.type === "bedrock" ? fromApertureCloud(inferred.type, entry) : null;
      // "type" first, where a reader looks for it.
      const rest = cloud?.entry ?? { ...entry };
      const moved = cloud ? ["apikey", "authorization"].filter((k) => k in entry) : [];
      for (const k of Object.keys(entry)) delete entry[k];
      Object.assign(entry, { type: inferred.type }, rest);
      note(changes.before, [...path, "type"], `added: Aperture entries have no type; taken from ${inferred.because}`);
      for (const change of cloud?.changes ?? []) note(changes.before, [...path, change.field], change.message);
      for (const field of moved) note(changes.removed, path, `removed "${field}": keyless holds the credential under "credentials"`);
    }
    const baseurl = text(entry.baseurl);
    if (baseurl && API_VERSION_SUFFIX.test(baseurl)) {
      entry.baseurl = baseurl.replace(/\/+$/, "").replace(API_VERSION_SUFFIX, "");
      note(changes.before, [...path, "baseurl"], `was "${baseurl}": keyless appends the API version itself`);
    }
    const basis = text(entry.cost_basis);
    if (basis !== undefined && COST_BASES[basis as CostBasis] === null) {
      removeField(entry, "cost_basis", path, `keyless has no "${basis}" price table: it prices from the provider type's (override under \`prices\`)`, changes);
    }
    removeField(entry, "name", path, "keyless names a provider by its config key", changes);
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
    note(changes.before, ["database", "retention"], `was ${was}: ${retention.require_export === true ? "no `export` section is configured, so require_export keeps everything" : "captures are purged after the duration"}${Array.isArray(retention.purge) && retention.purge.includes("tools") ? "; tool-call rows are always kept" : ""}`);
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
