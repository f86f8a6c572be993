// Concrete model ids behind a provider's model globs, for model listings: literal entries as written, and for globs
// the matching ids the price table knows for that provider type.
import { findProvider } from "@pydantic/genai-prices";
import { globMatch } from "../config/glob.js";

export interface ModelCatalog {
  expand(providerType: string, globs: readonly string[]): string[];
}

const PRICE_PROVIDER: Readonly<Record<string, string>> = {
  anthropic: "anthropic",
  openai: "openai",
  gemini: "google",
  vertex: "google",
  bedrock: "aws",
};

export function createModelCatalog(): ModelCatalog {
  const known = new Map<string, string[]>();
  const idsFor = (type: string): string[] => {
    let ids = known.get(type);
    if (!ids) {
      const providerId = PRICE_PROVIDER[type];
      ids = providerId ? (findProvider({ providerId })?.models.map((m) => m.id) ?? []) : [];
      known.set(type, ids);
    }
    return ids;
  };
  return {
    expand(providerType, globs) {
      const out = new Set<string>();
      for (const glob of globs) {
        if (!glob.includes("*")) out.add(glob);
        else for (const id of idsFor(providerType)) if (globMatch(glob, id)) out.add(id);
      }
      return [...out];
    },
  };
}
