import { type KeyedConfig, keyedProvider } from "./keyed.js";

export const openaiProvider = keyedProvider<KeyedConfig<"openai">>("openai", "openai", "bearer");
