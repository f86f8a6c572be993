// The direct APIs (Anthropic, OpenAI, Gemini) differ only in how the key travels: one adapter shape, three headers.
// `auth_mode` picks whose credential that is: the gateway's key (inject), the caller's own (passthrough), or none.
import type { AuthMode, KeyHeader, ProviderConfig } from "../config/providers.js";
import { type ProviderAdapter, ProviderAuthError, addHeaderLines, upstreamUrl } from "./types.js";

export type KeyedConfig<T extends "anthropic" | "openai" | "gemini"> = Extract<ProviderConfig, { type: T }>;

interface Keyed {
  readonly type: string;
  readonly baseurl: string;
  readonly apikey: string;
  readonly keys: readonly { readonly apikey: string }[];
  readonly headers: readonly string[];
  readonly authorization?: KeyHeader;
  readonly auth_mode: AuthMode;
}

export function setKey(headers: Headers, how: KeyHeader, key: string): void {
  if (how === "bearer") headers.set("authorization", `Bearer ${key}`);
  else headers.set(how, key);
}

export function keyedProvider<C extends ProviderConfig & Keyed>(type: C["type"], priceProvider: string, keyHeader: KeyHeader, defaults: (headers: Headers) => void = () => undefined): ProviderAdapter<C> {
  return {
    type,
    priceProvider,
    // A passthrough provider without a key still serves callers who bring their own; "none" needs nothing. With
    // `keys`, routing picks one and hands it over as `apikey` (proxy/key-pool.ts).
    configured: (config) => config.apikey !== "" || config.keys.some((k) => k.apikey !== "") || config.auth_mode !== "inject",
    secrets: (config) => [config.apikey, ...config.keys.map((k) => k.apikey)].filter((k) => k !== ""),
    prepare(input, config) {
      const headers = new Headers(input.headers);
      addHeaderLines(headers, config.headers);
      const own = input.clientCredentials ?? [];
      if (config.auth_mode === "passthrough" && own.length > 0) {
        // The caller's credential goes up as the caller sent it; the gateway's key never joins it.
        for (const { name, value } of own) headers.set(name, value);
      } else if (config.auth_mode !== "none") {
        if (config.apikey === "") throw new ProviderAuthError("the caller sent no credential of its own and the provider has no key configured (auth_mode passthrough)");
        setKey(headers, config.authorization ?? keyHeader, config.apikey);
      }
      defaults(headers);
      return { url: upstreamUrl(config.baseurl, input.path, input.query), method: input.method, headers, body: input.body };
    },
  };
}
