// One adapter per upstream type: where a request goes and how it is authenticated. Adapters never see Hono's Context.
import type { ProviderConfig } from "../config/providers.js";

export interface UpstreamInput {
  /** Canonical upstream path, built by the route from validated parts (never the client's raw path). */
  readonly path: string;
  /** Query parameters the route allows through. */
  readonly query: URLSearchParams;
  readonly method: string;
  /** Client headers with credentials, identity and hop-by-hop headers already removed. */
  readonly headers: Headers;
  readonly body: Uint8Array | null;
  readonly model: string;
  /** The caller's own credential headers, given only to a provider in passthrough mode. */
  readonly clientCredentials?: readonly ClientCredential[];
}

export interface ClientCredential {
  readonly name: string;
  readonly value: string;
}

export interface UpstreamRequest {
  readonly url: URL;
  readonly method: string;
  readonly headers: Headers;
  readonly body: Uint8Array | null;
}

export interface ProviderAdapter<C extends ProviderConfig = ProviderConfig> {
  readonly type: C["type"];
  /** The provider id in the price table (genai-prices), and a cost-basis prefix. */
  readonly priceProvider: string;
  /** True when the provider has what it needs to authenticate (e.g. a non-empty key). */
  configured(config: C): boolean;
  /** Every secret the adapter sends upstream, so the gateway can scrub it from anything an upstream echoes back. */
  secrets(config: C): readonly string[];
  prepare(input: UpstreamInput, config: C): Promise<UpstreamRequest> | UpstreamRequest;
}

/** Joins a base URL and a canonical path, and refuses any result that leaves the base URL's origin. */
export function upstreamUrl(baseurl: string, path: string, query?: URLSearchParams): URL {
  const base = new URL(baseurl);
  const url = new URL(base.pathname.replace(/\/$/, "") + path, base.origin);
  if (url.origin !== base.origin) throw new Error("upstream URL left the provider's origin");
  const qs = query?.toString();
  if (qs) url.search = qs;
  return url;
}

/** Adds config-declared "Name: value" headers. */
export function addHeaderLines(headers: Headers, lines: readonly string[]): void {
  for (const line of lines) {
    const i = line.indexOf(":");
    headers.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
}

/** The adapter could not authenticate the upstream call (token endpoint down, credential chain empty). Our own words only. */
export class ProviderAuthError extends Error {
  override readonly name = "ProviderAuthError";
}
