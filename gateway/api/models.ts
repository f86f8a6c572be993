// GET /v1/models and /v1beta/models: the models the caller may use, in the client's own API format.
import type { Caller } from "../access/caller.js";
import { allowsModel, modelKey } from "../access/grants.js";
import type { ModelCatalog } from "../pricing/catalog.js";

export interface ListedModel {
  readonly provider: string;
  readonly type: string;
  readonly id: string;
}

export function grantedModels({ config, access }: Caller, catalog: ModelCatalog): ListedModel[] {
  if (access.role === null) return [];
  const seen = new Set<string>();
  const out: ListedModel[] = [];
  for (const [name, provider] of Object.entries(config.providers)) {
    for (const id of catalog.expand(provider.type, provider.models)) {
      if (seen.has(`${provider.type}/${id}`) || !allowsModel(access, modelKey(name, id))) continue;
      seen.add(`${provider.type}/${id}`);
      out.push({ provider: name, type: provider.type, id });
    }
  }
  return out;
}

const EPOCH = "2025-01-01T00:00:00Z";

export function anthropicModelList(models: readonly ListedModel[]): unknown {
  const data = models
    .filter((m) => m.type === "anthropic" || m.id.startsWith("claude"))
    .map((m) => ({ id: m.id, type: "model", display_name: m.id, created_at: EPOCH }));
  return { data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null };
}

export function openaiModelList(models: readonly ListedModel[]): unknown {
  return {
    object: "list",
    data: models.map((m) => ({ id: m.id, object: "model", created: Date.parse(EPOCH) / 1000, owned_by: m.provider })),
  };
}

export function geminiModelList(models: readonly ListedModel[]): unknown {
  return {
    models: models
      .filter((m) => m.type === "gemini")
      .map((m) => ({
        name: `models/${m.id}`,
        displayName: m.id,
        supportedGenerationMethods: ["generateContent", "streamGenerateContent", "countTokens"],
      })),
  };
}
