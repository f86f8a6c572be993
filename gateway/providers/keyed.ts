// The direct APIs (Anthropic, OpenAI, Gemini) differ only in how the key travels: one adapter shape, three headers.
import type { ProviderConfig } from "../config/providers.js";
import { type ProviderAdapter, addHeaderLines, upstreamUrl } from "./types.js";

export type KeyedConfig<T extends "anthropic" | "openai" | "gemini"> = Extract<ProviderConfig, { type: T }>;

interface Keyed {
  readonly type: string;
  readonly baseurl: string;
  readonly apikey: string;
  readonly keys: readonly { readonly apikey: string }[];
  readonly headers: readonly string[];
}

export function keyedProvider<C extends ProviderConfig & Keyed>(
  type: C["type"],
  priceProvider: string,
  authorize: (headers: Headers, key: string) => void,
): ProviderAdapter<C> {
  return {
    type,
    priceProvider,
    // With `keys`, routing picks one and hands it over as `apikey` (routing/keys.ts).
    configured: (config) => config.apikey !== "" || config.keys.some((k) => k.apikey !== ""),
    secrets: (config) => [config.apikey, ...config.keys.map((k) => k.apikey)].filter((k) => k !== ""),
    prepare(input, config) {
      const headers = new Headers(input.headers);
      addHeaderLines(headers, config.headers);
      authorize(headers, config.apikey);
      return { url: upstreamUrl(config.baseurl, input.path, input.query), method: input.method, headers, body: input.body };
    },
  };
}
