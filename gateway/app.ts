// The gateway as a Hono app. Everything it needs is passed in; nothing here is global.
import { type Context, Hono } from "hono";
import type { Config } from "./config/schema.js";
import type { GatewayErrorKind } from "./formats/codec.js";
import type { GatewayEnv } from "./http/env.js";
import { anthropicError } from "./dialects/anthropic/codec.js";
import { bedrockError } from "./formats/bedrock.js";
import { googleError } from "./dialects/gemini/codec.js";
import { refuseCrossSite, refuseForeignHost } from "./http/cross-site.js";
import { type CredentialIdentity, identify, requireIdentity } from "./http/identify.js";
import type { Identity, IdentityResolver } from "./identity/types.js";
import { CallerCache } from "./access/caller.js";
import type { ModelCatalog } from "./pricing/catalog.js";
import type { Pricer } from "./pricing/prices.js";
import { anthropicModelList, geminiModelList, grantedModels, openaiModelList } from "./api/models.js";
import { mountRequestApi } from "./api/requests.js";
import { apiError } from "./http/api-error.js";
import { API_BODY_LIMIT, type BodyPolicy, CONFIG_BODY_LIMIT, closing, hasBody, limitBodies } from "./http/body-limit.js";
import { mountBedrockControl } from "./proxy/bedrock-control.js";
import type { ExchangePlugin, SessionRef } from "./proxy/exchange.js";
import type { ProxyDeps } from "./proxy/deps.js";
import { handleProxy } from "./proxy/handler.js";
import type { UpstreamClient } from "./proxy/upstream.js";
import type { GatewayMetrics } from "./proxy/metrics.js";
import { type RouteDef, ROUTES, matchRoute } from "./proxy/routes.js";
import type { KeyPool } from "./proxy/key-pool.js";
import type { RequestLog } from "./store/requests.js";
import { DEFAULT_FRAMINGS, type FramingRegistry } from "./stream/index.js";

/** A feature that plugs into the gateway: request-path checks, extra API routes. */
export interface GatewayModule {
  readonly name: string;
  readonly plugin?: ExchangePlugin;
  /** Mounts routes that run after identity resolution (c.var.identity is set). */
  mount?(app: Hono<GatewayEnv>): void;
  /**
   * Mounts routes that also run for callers the network refused (c.var.unidentified set, c.var.identity not): they
   * authenticate by other means, answer, or call next() (which refuses unidentified callers).
   */
  mountPublic?(app: Hono<GatewayEnv>): void;
}

export interface AppDeps {
  readonly getConfig: () => Config;
  readonly version: string;
  readonly resolver: IdentityResolver;
  readonly log: RequestLog;
  readonly pricer: Pricer;
  readonly catalog: ModelCatalog;
  readonly metrics: GatewayMetrics;
  /** The provider-traffic client; fetch only serves rare control-plane reads. */
  readonly upstream: UpstreamClient;
  /** Provider keys with their weights and rests (routing/keys.ts). */
  readonly keys: KeyPool;
  readonly fetch?: typeof fetch;
  readonly modules?: readonly GatewayModule[];
  readonly routes?: readonly RouteDef[];
  readonly framings?: FramingRegistry;
  readonly sessionFor?: (identity: Identity) => SessionRef | null;
  /** Identity from a credential for callers without a tailnet node (CI session tokens). */
  readonly credentialIdentity?: CredentialIdentity;
  readonly onError?: (err: unknown, context: string) => void;
}

const KIND_BY_STATUS: Readonly<Record<number, GatewayErrorKind>> = { 403: "permission", 404: "not_found", 413: "too_large", 500: "internal", 503: "unavailable" };

/** Errors before a route is known: shaped for the API the path belongs to, readable by every SDK. */
function genericError(path: string, status: number, message: string): Response {
  const error = { kind: KIND_BY_STATUS[status] ?? "permission", status, message };
  if (path.startsWith("/v1beta/") || path.includes("/publishers/")) return googleError(error);
  if (/^\/(bedrock\/|model\/|inference-profiles)/.test(path)) return bedrockError(error);
  if (path.startsWith("/v1/messages")) return anthropicError(error);
  // Both OpenAI's and Anthropic's SDKs read error.message from this envelope.
  return Response.json({ type: "error", error: { type: status === 404 ? "not_found_error" : "permission_error", message, code: null } }, { status });
}

export function createApp(deps: AppDeps): Hono<GatewayEnv> {
  const app = new Hono<GatewayEnv>();
  const modules = deps.modules ?? [];
  const routes = deps.routes ?? ROUTES;
  const onError = deps.onError ?? ((err, context) => console.error(`keyless: ${context}:`, err));
  const plugins = modules.flatMap((m) => (m.plugin ? [m.plugin] : []));
  const framings = deps.framings ?? DEFAULT_FRAMINGS;
  const callers = new CallerCache();
  const proxyDeps = (config: Config): ProxyDeps => ({
    config,
    pricer: deps.pricer,
    log: deps.log,
    plugins,
    framings,
    upstream: deps.upstream,
    metrics: deps.metrics,
    routing: { pool: deps.keys, send: (request, signal) => deps.upstream.send(request, signal) },
    sessionFor: deps.sessionFor ?? (() => null),
    onError,
  });

  app.onError((err, c) => {
    onError(err, `${c.req.method} ${c.req.path}`);
    // Never echo err.message: it may hold upstream details.
    return genericError(c.req.path, 500, "internal gateway error");
  });

  app.get("/healthz", (c) => c.json({ ok: true, version: deps.version }));
  // Claude Code probes HEAD / before its first call; any status works, a fast 200 is friendliest.
  app.on(["GET", "HEAD"], "/", (c) => c.json({ name: "keyless", version: deps.version }));

  app.use("*", refuseForeignHost(() => deps.getConfig().allowed_hosts, () => deps.resolver.tailnetSuffix(), (path, message) => genericError(path, 403, message)));
  app.use("*", refuseCrossSite((path, message) => genericError(path, 403, message)));
  // Identity first, then the body limit, then the body: nobody unidentified makes the gateway read more than a small
  // body, and nobody at all more than the route's limit.
  const refuseCaller = (c: Context<GatewayEnv>, status: 403 | 503, message: string) => {
    const res = genericError(c.req.path, status, message);
    return hasBody(c.req.raw.headers) ? closing(res) : res;
  };
  app.use("*", identify(deps.resolver, (identity) => callers.get(identity, deps.getConfig()), refuseCaller, deps.credentialIdentity));
  const bodyPolicy = (c: Context<GatewayEnv>): BodyPolicy => {
    if (matchRoute(routes, c.req.method, new URL(c.req.url).pathname)) return { limit: deps.getConfig().limits.max_body, readsOwnBody: true };
    return { limit: c.req.path.startsWith("/api/config") ? CONFIG_BODY_LIMIT : API_BODY_LIMIT, readsOwnBody: false };
  };
  app.use("*", limitBodies(bodyPolicy, (c, limit) => genericError(c.req.path, 413, `request body exceeds the gateway's limit of ${limit} bytes for ${c.req.method} ${c.req.path}`)));
  for (const module of modules) module.mountPublic?.(app);
  app.use("*", requireIdentity(refuseCaller));

  app.get("/metrics", async (c) => {
    if (!c.var.caller.readsMetrics) {
      return apiError(c, 403, "forbidden", "access denied: metrics need role admin or read_metrics");
    }
    return c.body(await deps.metrics.registry.metrics(), 200, { "content-type": deps.metrics.registry.contentType });
  });

  app.get("/v1/models", (c) => {
    const models = grantedModels(c.var.caller, deps.catalog);
    // Anthropic clients send anthropic-version; everyone else gets OpenAI's list shape.
    return c.json(c.req.header("anthropic-version") ? anthropicModelList(models) : openaiModelList(models));
  });
  app.get("/v1beta/models", (c) => c.json(geminiModelList(grantedModels(c.var.caller, deps.catalog))));

  mountRequestApi(app, deps.getConfig, deps.log);
  mountBedrockControl(app, deps.getConfig, deps.fetch ?? fetch);
  for (const module of modules) module.mount?.(app);

  app.all("*", async (c) => {
    const pathname = new URL(c.req.url).pathname;
    const matched = matchRoute(routes, c.req.method, pathname);
    if (!matched) return genericError(pathname, 404, `keyless has no route for ${c.req.method} ${pathname}`);
    return handleProxy(c.req.raw, c.var.caller, matched, proxyDeps(c.var.caller.config), c.env?.incoming);
  });

  return app;
}
