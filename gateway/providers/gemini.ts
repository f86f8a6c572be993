import type { ProviderConfig } from "../config/providers.js";
import { type ProviderAdapter, addHeaderLines, upstreamUrl } from "./types.js";

type GeminiConfig = Extract<ProviderConfig, { type: "gemini" }>;

export const geminiProvider: ProviderAdapter<GeminiConfig> = {
  type: "gemini",
  priceProvider: "google",
  configured: (config) => config.apikey !== "",
  secrets: (config) => [config.apikey],
  prepare(input, config) {
    const headers = new Headers(input.headers);
    addHeaderLines(headers, config.headers);
    headers.set("x-goog-api-key", config.apikey);
    return { url: upstreamUrl(config.baseurl, input.path, input.query), method: input.method, headers, body: input.body };
  },
};
