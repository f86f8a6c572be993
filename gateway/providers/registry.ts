// Every provider type keyless speaks to, by config `type`.
import type { ProviderConfig, ProviderType } from "../config/providers.js";
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

export function adapterFor(config: ProviderConfig): ProviderAdapter {
  // The mapped type above ties each config type to its adapter; this widening is the one place that relies on it.
  return PROVIDERS[config.type] as ProviderAdapter;
}
