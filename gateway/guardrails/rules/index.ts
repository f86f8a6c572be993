// Rule catalog access: the built-in catalog, validation/merging of config overrides, compilation.
import catalog from "./catalog.json" with { type: "json" };

export { loadRules, compileCatalog, type CompiledRules, type RuleMeta } from "./compile.js";
export { Catalog, RuleOverrides, Rule, mergeCatalog } from "./schema.js";

/** The built-in catalog as shipped (unvalidated JSON; `loadRules` validates it). */
export function defaultCatalog(): unknown {
  return structuredClone(catalog);
}
