// Wires a config into a running gateway: store, identity, modules, HTTP server, retention, graceful shutdown.
import { type ServerType, serve } from "@hono/node-server";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mountConfigApi } from "./api/config.js";
import { type GatewayModule, createApp } from "./app.js";
import type { LoadedConfig } from "./config/load.js";
import { LiveConfig } from "./config/live.js";
import type { Config } from "./config/schema.js";
import { createCiModule } from "./github/index.js";
import { createResolver, listenProblem, listenWarning } from "./identity/index.js";
import type { IdentityResolver } from "./identity/types.js";
import { createModelCatalog } from "./pricing/catalog.js";
import { createPricer } from "./pricing/prices.js";
import { createMetrics } from "./proxy/metrics.js";
import { createRoutingModule } from "./routing/index.js";
import { createWebSocketModule } from "./websocket/index.js";
import { rateLimitPlugin } from "./quotas/rate-limits.js";
import { budgetAlertsPlugin } from "./quotas/alerts.js";
import { createUpstreamClient } from "./proxy/upstream.js";
import { createQuotaModule, openBucketStore } from "./quotas/index.js";
import type { BucketStore } from "./quotas/bucket-store.js";
import { QUOTAS_SCHEMA } from "./quotas/store.js";
import { type Db, openDatabase } from "./store/db.js";
import { REQUESTS_SCHEMA, RequestLog } from "./store/requests.js";
import { CI_SESSIONS_SCHEMA } from "./store/sessions.js";
import { CONFIG_AUDIT_SCHEMA, ConfigAudit } from "./store/config-audit.js";
import { OUTBOX_SCHEMA } from "./store/outbox.js";
import { TOOL_CALLS_SCHEMA } from "./store/tool-calls.js";
import { createHooksModule } from "./webhooks/index.js";
import { createToolsModule } from "./guardrails/plugin.js";
import { createUiModule } from "./ui/index.js";
import { packageVersion } from "./version.js";

export interface GatewayOptions {
  readonly loaded: LoadedConfig;
  /** HOST:PORT; overrides the config's `listen`. Port 0 picks a free port. */
  readonly listen?: string;
  /** Test seams: replace the identity source or the upstream fetch. */
  readonly resolver?: IdentityResolver;
  readonly fetch?: typeof fetch;
  readonly logIntervalMs?: number;
  readonly log?: (message: string) => void;
  /** The file `loaded` came from: enables the config API, reloadConfig() (SIGHUP) and reloads when it changes. */
  readonly configPath?: string;
  readonly configDebounceMs?: number;
}

export interface RunningGateway {
  readonly url: string;
  readonly port: number;
  readonly db: Db;
  readonly requestLog: RequestLog;
  config(): Config;
  /** Swaps the running config (validated by the caller); requests already in flight keep the one they started with. */
  replaceConfig(next: LoadedConfig): void;
  /** Re-reads the config file (SIGHUP); an invalid file leaves the running config in place. */
  reloadConfig(): { readonly ok: boolean; readonly problems: readonly string[] };
  /** Stops accepting, waits for in-flight requests (up to `graceMs`), flushes the log, closes the store. */
  close(graceMs?: number): Promise<void>;
}

export function parseListen(listen: string): { hostname: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(listen);
  if (!m) throw new Error(`listen address "${listen}" is not HOST:PORT`);
  return { hostname: m[1] ?? (m[2] || "127.0.0.1"), port: Number(m[3]) };
}

export async function startGateway(options: GatewayOptions): Promise<RunningGateway> {
  const say = options.log ?? ((m: string) => console.error(m));
  let loaded = options.loaded;
  const getConfig = () => loaded.config;
  const config = getConfig();
  const { hostname, port } = parseListen(options.listen ?? config.listen);
  const listenRefused = listenProblem(config.identity, hostname);
  if (listenRefused) throw new Error(listenRefused);
  const listenAdvice = listenWarning(config.identity, hostname);
  if (listenAdvice) say(`keyless: ${listenAdvice}`);
  const db = openDatabase(config.database.path, [REQUESTS_SCHEMA, TOOL_CALLS_SCHEMA, OUTBOX_SCHEMA, CI_SESSIONS_SCHEMA, QUOTAS_SCHEMA, CONFIG_AUDIT_SCHEMA]);
  const onModuleError = (err: unknown, context: string) => say(`keyless: ${context}: ${String(err)}`);
  let buckets: BucketStore;
  try {
    buckets = await openBucketStore(config.quota_store, { db, onError: onModuleError });
  } catch (err) {
    db.close();
    throw err;
  }
  const requestLog = new RequestLog(db, {
    intervalMs: options.logIntervalMs,
    onError: (err) => say(`keyless: request log write failed (will retry): ${String(err)}`),
  });
  const metrics = createMetrics();
  const upstream = createUpstreamClient({
    headersTimeoutMs: config.limits.upstream_timeout,
    bodyTimeoutMs: config.limits.upstream_timeout,
  });
  const ci = createCiModule({
    getConfig,
    db,
    balance: async (bucket, quota) => {
      const def = getConfig().quotas[quota];
      return def ? (await buckets.peek({ bucket, quota, def })).balance : null;
    },
    flushLog: () => requestLog.flush(),
    onError: (err, context) => say(`keyless: ${context}: ${String(err)}`),
  });
  const pricer = createPricer(config.prices);
  const quotas = createQuotaModule({ store: buckets, pricer, getConfig, sessionFor: ci.sessionFor });
  const audit = new ConfigAudit(db);
  const live = options.configPath
    ? new LiveConfig({ path: options.configPath, initial: loaded, apply: (next) => (loaded = next), audit, log: say, debounceMs: options.configDebounceMs })
    : null;
  const configApi: GatewayModule = { name: "config", mount: (app) => mountConfigApi(app, { live, audit, getConfig }) };
  const tools = createToolsModule({ db, getConfig, onError: onModuleError });
  const hooks = createHooksModule({ db, hooks: () => getConfig().hooks, userAgent: `keyless/${packageVersion()}`, toolCalls: tools.records, onError: onModuleError });
  // Quotas run last: they reserve for the body as pre_request hooks leave it.
  const rateLimits: GatewayModule = { name: "rate-limits", plugin: rateLimitPlugin({ store: buckets, pricer, getConfig, onError: onModuleError }) };
  const alerts: GatewayModule = {
    name: "budget-alerts",
    plugin: budgetAlertsPlugin({ db, store: buckets, outbox: hooks.outbox, getConfig, kick: () => hooks.kick(), onError: onModuleError }),
  };
  const websocket = createWebSocketModule({ getConfig, onError: onModuleError });
  const routing = createRoutingModule({ db, registry: metrics.registry, getConfig });
  const modules: GatewayModule[] = [ci, hooks, tools, rateLimits, quotas, alerts, routing, websocket, configApi, createUiModule({ getConfig, db, log: requestLog, buckets, sessionFor: ci.sessionFor })];
  const app = createApp({
    getConfig,
    version: packageVersion(),
    resolver: options.resolver ?? createResolver(config.identity),
    log: requestLog,
    pricer,
    catalog: createModelCatalog(),
    metrics,
    fetch: options.fetch,
    upstream,
    modules,
    keys: routing.pool,
    sessionFor: ci.sessionFor,
    credentialIdentity: ci.credentialIdentity,
  });

  const inFlight = new Set<Promise<unknown>>();
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, hostname, port }, () => resolve(s));
  });
  websocket.attach(server as Server, (request, env) => app.fetch(request, env));
  server.on("request", (_req, res) => {
    const done = new Promise((r) => res.once("close", r));
    inFlight.add(done);
    void done.then(() => inFlight.delete(done));
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;

  const retention = config.database.retention;
  const purge = () => {
    if (retention === "") return;
    const purged = requestLog.purgeCaptures(Date.now() - retention);
    if (purged > 0) say(`keyless: retention purged ${purged} captures older than ${config.database.retention}`);
  };
  purge();
  const purgeTimer = setInterval(purge, 3600_000).unref();
  ci.start();
  live?.watch();
  hooks.start();

  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    db,
    requestLog,
    config: getConfig,
    reloadConfig() {
      if (!live) return { ok: false, problems: ["the gateway was started without a config file"] };
      const result = live.reload("sighup");
      return { ok: result.ok, problems: result.ok ? [] : result.problems };
    },
    async close(graceMs = 10_000) {
      clearInterval(purgeTimer);
      websocket.close();
      live?.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Idle keep-alive sockets would hold close() open; in-flight responses keep theirs until done.
        (server as { closeIdleConnections?: () => void }).closeIdleConnections?.();
        const deadline = setTimeout(() => {
          (server as { closeAllConnections?: () => void }).closeAllConnections?.();
        }, graceMs);
        deadline.unref();
        void Promise.all([...inFlight]).then(() => clearTimeout(deadline));
      });
      await upstream.close();
      await requestLog.flush();
      await ci.stop();
      await hooks.stop();
      // After the log's last write: its settlements are handed to the store before it closes.
      await buckets.close();
      db.close();
    },
    replaceConfig(next) {
      loaded = next;
    },
  };
}
