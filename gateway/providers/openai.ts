import type { ProviderConfig } from "../config/providers.js";
import { type ProviderAdapter, addHeaderLines, upstreamUrl } from "./types.js";

type OpenAIConfig = Extract<ProviderConfig, { type: "openai" }>;

export const openaiProvider: ProviderAdapter<OpenAIConfig> = {
  type: "openai",
  priceProvider: "openai",
  configured: (config) => config.apikey !== "",
  secrets: (config) => [config.apikey],
  prepare(input, config) {
    const headers = new Headers(input.headers);
    addHeaderLines(headers, config.headers);
    headers.set("authorization", `Bearer ${config.apikey}`);
    return { url: upstreamUrl(config.baseurl, input.path, input.query), method: input.method, headers, body: input.body };
  },
};
