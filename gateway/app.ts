// The gateway as a Hono app. Everything it needs is passed in; nothing here is global.
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { TrieRouter } from "hono/router/trie-router";
import type { Config } from "./config/schema.js";
import type { GatewayErrorKind } from "./formats/codec.js";
import type { GatewayEnv } from "./http/env.js";
import { refuseCrossSite, refuseForeignHost } from "./http/cross-site.js";
import { refuseWithoutCsrfToken } from "./http/csrf.js";
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
import type { SessionRef } from "./proxy/exchange.js";
import type { GatewayModule } from "./proxy/feature.js";
import type { ProxyDeps } from "./proxy/deps.js";
import { handleProxy } from "./proxy/handler.js";
import type { UpstreamClient } from "./proxy/upstream.js";
import type { GatewayMetrics } from "./proxy/metrics.js";
import type { RouteDef } from "./proxy/routes.js";
import type { KeyPool } from "./proxy/key-pool.js";
import type { RequestTracer } from "./proxy/traced.js";
import { ROUTES, errorForPath } from "./dialects/index.js";
import type { RequestLog } from "./store/requests.js";
import { DEFAULT_FRAMINGS, type FramingRegistry } from "./stream/index.js";

export interface AppDeps {
  readonly getConfig: () => Config;
  readonly version: string;
  readonly resolver: IdentityResolver;
  readonly log: RequestLog;
  readonly pricer: Pricer;
  readonly catalog: ModelCatalog;
  readonly metrics: GatewayMetrics;
  /** OpenTelemetry spans and metrics per request (telemetry/); absent when off. */
  readonly tracer?: RequestTracer;
  /** The provider-traffic client; fetch only serves rare control-plane reads. */
  readonly upstream: UpstreamClient;
  /** Provider keys with their weights and rests (proxy/key-pool.ts). */
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

/** Errors before a route is known: in the shape of the dialect the path belongs to (dialects/index.ts). */
function genericError(path: string, status: number, message: string): Response {
  return errorForPath(path, { kind: KIND_BY_STATUS[status] ?? "permission", status, message });
}

type OnError = (err: unknown, context: string) => void;

/** Checks every request passes before any route: host, cross-site, identity (the Caller), body limit. */
function mountEdge(app: Hono<GatewayEnv>, deps: AppDeps, routes: readonly RouteDef[], onError: OnError): (c: Context<GatewayEnv>, status: 403 | 503, message: string) => Response {
  const callers = new CallerCache((message) => onError(new Error(message), "grants"));
  app.use("*", refuseForeignHost(() => deps.getConfig().allowed_hosts, () => deps.resolver.tailnetSuffix(), (path, message) => genericError(path, 403, message)));
  app.use("*", refuseCrossSite((path, message) => genericError(path, 403, message)));
  // keyless's own API and UI are what a page in an admin's browser could be made to call.
  for (const path of ["/api/*", "/ui/*"]) app.use(path, refuseWithoutCsrfToken((c, message) => apiError(c, 403, "csrf_token_missing", message)));
  // Identity first, then the body limit, then the body: nobody unidentified makes the gateway read more than a small
  // body, and nobody at all more than the route's limit.
  const refuseCaller = (c: Context<GatewayEnv>, status: 403 | 503, message: string) => {
    const res = genericError(c.req.path, status, message);
    return hasBody(c.req.raw.headers) ? closing(res) : res;
  };
  app.use("*", identify(deps.resolver, (identity) => callers.get(identity, deps.getConfig()), refuseCaller, deps.credentialIdentity));
  // The provider routes read their own bodies (up to limits.max_body); a router of the same shape as the app's decides.
  const providerPaths = new TrieRouter<RouteDef>();
  for (const route of routes) for (const path of route.paths) providerPaths.add(route.method, path, route);
  const bodyPolicy = (c: Context<GatewayEnv>): BodyPolicy => {
    if (providerPaths.match(c.req.method, c.req.path)[0].length > 0) return { limit: deps.getConfig().limits.max_body, readsOwnBody: true };
    return { limit: c.req.path.startsWith("/api/config") ? CONFIG_BODY_LIMIT : API_BODY_LIMIT, readsOwnBody: false };
  };
  app.use("*", limitBodies(bodyPolicy, (c, limit) => genericError(c.req.path, 413, `request body exceeds the gateway's limit of ${limit} bytes for ${c.req.method} ${c.req.path}`)));
  return refuseCaller;
}

/** keyless's own routes for identified callers: metrics, model lists, the request log API, Bedrock's control plane. */
function mountGatewayRoutes(app: Hono<GatewayEnv>, deps: AppDeps): void {
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
  // Aperture's connector routes: keyless has none (docs/aperture.md). Said plainly, rather than a 404 that reads
  // like a typo in the client's URL.
  const noConnectors = (c: Context<GatewayEnv>) =>
    c.json(
      { type: "error", error: { type: "not_supported_error", message: `keyless does not proxy Aperture's MCP servers or connectors (${c.req.path}); configure the MCP server in the client directly`, code: "connectors_not_supported" } },
      501,
    );
  app.all("/v1/mcp", noConnectors);
  app.all("/v1/mcp/*", noConnectors);
  app.all("/v1/connectors/*", noConnectors);
  mountRequestApi(app, deps.log);
  mountBedrockControl(app, deps.fetch ?? fetch);
}

/**
 * Each dialect's routes on Hono's router. The router dispatches on the path's shape; the route's own pattern, on the
 * raw path, decides and names the model, else the next route sharing the shape is tried, then the 404.
 */
function mountProviderRoutes(app: Hono<GatewayEnv>, deps: AppDeps, routes: readonly RouteDef[], plugins: ProxyDeps["plugins"], onError: OnError): void {
  const framings = deps.framings ?? DEFAULT_FRAMINGS;
  const proxyDeps = (config: Config): ProxyDeps => ({
    config,
    pricer: deps.pricer,
    log: deps.log,
    plugins,
    framings,
    upstream: deps.upstream,
    routing: { pool: deps.keys, send: (request, signal) => deps.upstream.send(request, signal) },
    metrics: deps.metrics,
    ...(deps.tracer ? { tracer: deps.tracer } : {}),
    sessionFor: deps.sessionFor ?? (() => null),
    onError,
  });
  const provider = (route: RouteDef): MiddlewareHandler<GatewayEnv> =>
    async function providerRoute(c, next) {
      const match = route.pattern.exec(new URL(c.req.url).pathname);
      if (!match) return next();
      return handleProxy(c.req.raw, c.var.caller, { route, match }, proxyDeps(c.var.caller.config), c.env?.incoming);
    };
  for (const route of routes) app.on(route.method, [...route.paths], provider(route));
}

/** A feature's routes as a sub-app of its own, mounted with app.route(). */
function mountFeature(app: Hono<GatewayEnv>, mount: ((sub: Hono<GatewayEnv>) => void) | undefined): void {
  if (!mount) return;
  const sub = new Hono<GatewayEnv>();
  mount(sub);
  app.route("/", sub);
}

export function createApp(deps: AppDeps): Hono<GatewayEnv> {
  const app = new Hono<GatewayEnv>();
  const modules = deps.modules ?? [];
  const routes = deps.routes ?? ROUTES;
  const onError = deps.onError ?? ((err, context) => console.error(`keyless: ${context}:`, err));

  app.onError((err, c) => {
    onError(err, `${c.req.method} ${c.req.path}`);
    // Never echo err.message: it may hold upstream details.
    return genericError(c.req.path, 500, "internal gateway error");
  });
  app.notFound((c) => {
    const pathname = new URL(c.req.url).pathname;
    return genericError(pathname, 404, `keyless has no route for ${c.req.method} ${pathname}`);
  });
  app.get("/healthz", (c) => c.json({ ok: true, version: deps.version }));
  // Claude Code probes HEAD / before its first call; any status works, a fast 200 is friendliest.
  app.on(["GET", "HEAD"], "/", (c) => c.json({ name: "keyless", version: deps.version }));

  const refuseCaller = mountEdge(app, deps, routes, onError);
  for (const module of modules) mountFeature(app, module.mountPublic?.bind(module));
  app.use("*", requireIdentity(refuseCaller));
  mountGatewayRoutes(app, deps);
  // Features in pipeline order (gateway/pipeline.ts): their routes, then their steps around every provider request.
  for (const module of modules) mountFeature(app, module.mount?.bind(module));
  mountProviderRoutes(app, deps, routes, modules.flatMap((m) => (m.plugin ? [m.plugin] : [])), onError);
  return app;
}
