// Vertex AI: Claude (rawPredict) and Gemini (generateContent) under one project and region. Routes hand over a
// location-relative path ("/v1/publishers/…"); the project and region are always the configured ones, never the
// client's. Service accounts get OAuth tokens minted here; express-mode keys go in x-goog-api-key.
import type { ProviderConfig } from "../config/providers.js";
import { type TokenSource, serviceAccountTokens } from "./google-auth.js";
import { ProviderAuthError, type ProviderAdapter, addHeaderLines, upstreamUrl } from "./types.js";

type VertexConfig = Extract<ProviderConfig, { type: "vertex" }>;

const LOCATION_RELATIVE = /^\/(v1|v1beta1)(\/publishers\/[^/]+\/models\/[^/]+)$/;

/** Google's endpoint for a region: global and the us/eu multi-regions have hosts of their own. */
export function vertexBaseUrl(config: VertexConfig): string {
  if (config.baseurl) return config.baseurl;
  if (config.credentials.kind === "api_key" || config.region === "global") return "https://aiplatform.googleapis.com";
  if (config.region === "us" || config.region === "eu") return `https://aiplatform.${config.region}.rep.googleapis.com`;
  return `https://${config.region}-aiplatform.googleapis.com`;
}

export function createVertexProvider(): ProviderAdapter<VertexConfig> {
  // Keyed by the (frozen) config object: a config reload starts fresh, and old token sources are collected with it.
  const sources = new WeakMap<VertexConfig, TokenSource>();
  const tokensFor = (config: VertexConfig): TokenSource | null => {
    if (config.credentials.kind !== "service_account") return null;
    let source = sources.get(config);
    if (!source) {
      source = serviceAccountTokens(config.credentials, { tokenUrl: config.token_url });
      sources.set(config, source);
    }
    return source;
  };

  return {
    type: "vertex",
    priceProvider: "google",
    configured: (config) => config.credentials.kind !== "none",
    secrets(config) {
      const c = config.credentials;
      if (c.kind === "api_key") return [c.api_key];
      if (c.kind !== "service_account") return [];
      const token = tokensFor(config)?.current();
      return token ? [c.private_key, token] : [c.private_key];
    },
    async prepare(input, config) {
      const m = LOCATION_RELATIVE.exec(input.path);
      if (!m) throw new Error(`vertex adapter got a path that is not location-relative: ${input.path}`);
      const headers = new Headers(input.headers);
      addHeaderLines(headers, config.headers);
      let path: string;
      if (config.credentials.kind === "api_key") {
        // Express mode addresses publisher models without a project or location.
        path = input.path;
        headers.set("x-goog-api-key", config.credentials.api_key);
      } else {
        // The schema requires a project with a service account, and configured() keeps entries without one from here.
        if (config.project === undefined) throw new ProviderAuthError("no project configured for the service account");
        path = `/${m[1]}/projects/${encodeURIComponent(config.project)}/locations/${encodeURIComponent(config.region)}${m[2]}`;
        headers.set("authorization", `Bearer ${await tokensFor(config)!.token()}`);
      }
      return { url: upstreamUrl(vertexBaseUrl(config), path, input.query), method: input.method, headers, body: input.body };
    },
  };
}
