import type { ProviderConfig } from "../config/providers.js";
import { type ProviderAdapter, addHeaderLines, upstreamUrl } from "./types.js";

type AnthropicConfig = Extract<ProviderConfig, { type: "anthropic" }>;

export const anthropicProvider: ProviderAdapter<AnthropicConfig> = {
  type: "anthropic",
  priceProvider: "anthropic",
  configured: (config) => config.apikey !== "",
  secrets: (config) => [config.apikey],
  prepare(input, config) {
    const headers = new Headers(input.headers);
    addHeaderLines(headers, config.headers);
    headers.set("x-api-key", config.apikey);
    if (!headers.has("anthropic-version")) headers.set("anthropic-version", "2023-06-01");
    return { url: upstreamUrl(config.baseurl, input.path, input.query), method: input.method, headers, body: input.body };
  },
};
