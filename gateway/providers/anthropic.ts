import { type KeyedConfig, keyedProvider } from "./keyed.js";

export const anthropicProvider = keyedProvider<KeyedConfig<"anthropic">>("anthropic", "anthropic", "x-api-key", (headers) => {
  if (!headers.has("anthropic-version")) headers.set("anthropic-version", "2023-06-01");
});
