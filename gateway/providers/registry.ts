// Every provider type keyless speaks to, by config `type`.
import type { ProviderConfig, ProviderType } from "../config/providers.js";
import { anthropicProvider } from "./anthropic.js";
import { geminiProvider } from "./gemini.js";
import { openaiProvider } from "./openai.js";
import type { ProviderAdapter } from "./types.js";

type AdapterFor<T extends ProviderType> = ProviderAdapter<Extract<ProviderConfig, { type: T }>>;

export const PROVIDERS = {
  anthropic: anthropicProvider,
  openai: openaiProvider,
  gemini: geminiProvider,
} satisfies { [T in ProviderType]: AdapterFor<T> };

export function adapterFor(config: ProviderConfig): ProviderAdapter {
  // The mapped type above ties each config type to its adapter; this widening is the one place that relies on it.
  return PROVIDERS[config.type] as ProviderAdapter;
}
