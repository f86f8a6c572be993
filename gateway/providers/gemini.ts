import { type KeyedConfig, keyedProvider } from "./keyed.js";

export const geminiProvider = keyedProvider<KeyedConfig<"gemini">>("gemini", "google", (headers, key) => headers.set("x-goog-api-key", key));
