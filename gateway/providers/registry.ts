// Every provider type keyless speaks to, by config `type`.
import { COST_BASES, type ProviderConfig, type ProviderType } from "../config/providers.js";
import { anthropicProvider } from "./anthropic.js";
import { createBedrockProvider } from "./bedrock.js";
import { geminiProvider } from "./gemini.js";
import { openaiProvider } from "./openai.js";
import type { ProviderAdapter } from "./types.js";
import { createVertexProvider } from "./vertex.js";

type AdapterFor<T extends ProviderType> = ProviderAdapter<Extract<ProviderConfig, { type: T }>>;

export const PROVIDERS = {
  anthropic: anthropicProvider,
  openai: openaiProvider,
  gemini: geminiProvider,
  vertex: createVertexProvider(),
  bedrock: createBedrockProvider(),
} satisfies { [T in ProviderType]: AdapterFor<T> };

/** Adapters that price from the table an Aperture `cost_basis` names, per (frozen) config entry. */
const priced = new WeakMap<ProviderConfig, ProviderAdapter>();

export function adapterFor(config: ProviderConfig): ProviderAdapter {
  // The mapped type above ties each config type to its adapter; this widening is the one place that relies on it.
  const adapter = PROVIDERS[config.type] as ProviderAdapter;
  const table = config.cost_basis ? COST_BASES[config.cost_basis] : null;
  if (table === null || table === adapter.priceProvider) return adapter;
  let own = priced.get(config);
  if (!own) {
    own = { ...adapter, priceProvider: table };
    priced.set(config, own);
  }
  return own;
}
