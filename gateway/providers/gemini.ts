import { type KeyedConfig, keyedProvider } from "./keyed.js";

export const geminiProvider = keyedProvider<KeyedConfig<"gemini">>("gemini", "google", "x-goog-api-key");
