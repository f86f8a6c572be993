// Wires a config into a running gateway: store, identity, modules, HTTP server, retention, graceful shutdown.
import { type ServerType, serve } from "@hono/node-server";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mountConfigApi } from "./api/config.js";
import { createApp } from "./app.js";
import { pipeline } from "./pipeline.js";
import type { GatewayModule } from "./proxy/feature.js";
import type { LoadedConfig } from "./config/load.js";
import { parseListen } from "./config/listen.js";
import { LiveConfig } from "./config/live.js";
import type { Config } from "./config/schema.js";
import { createCiModule } from "./github/index.js";
import { createResolver, listenProblem, listenWarning } from "./identity/index.js";
import type { IdentityResolver } from "./identity/types.js";
import { createModelCatalog } from "./pricing/catalog.js";
import { createPricer } from "./pricing/prices.js";
import { createMetrics, observeRequestLog } from "./proxy/metrics.js";
import { createRoutingModule } from "./routing/index.js";
import { createWebSocketModule } from "./websocket/index.js";
import { rateLimitPlugin } from "./quotas/rate-limits.js";
import { budgetAlertsPlugin } from "./webhooks/budget-alerts.js";
import { createUpstreamClient } from "./proxy/upstream.js";
import { createQuotaModule, openBucketStore } from "./quotas/index.js";
import type { BucketStore } from "./quotas/bucket-store.js";
import { hostname as hostName } from "node:os";
import { randomBytes } from "node:crypto";
import { type Store, openStore } from "./store/db.js";
import { takeLease } from "./store/leases.js";
import type { RequestLog } from "./store/requests.js";
import { openRequestLog } from "./log-writer/index.js";
import { ConfigAudit } from "./store/config-audit.js";
import { createHooksModule } from "./webhooks/index.js";
import { quotaViews } from "./webhooks/aperture-payload.js";
import { chargesFrom } from "./quotas/charges.js";
import { createToolsModule } from "./guardrails/plugin.js";
import { createSecretsModule } from "./guardrails/secrets-plugin.js";
import { createUiModule } from "./ui/index.js";
import { packageVersion } from "./version.js";
import { effectiveRetention } from "./config/retention.js";
import { UsageExport, registerExportMetrics } from "./export/index.js";

const RETENTION_EVERY_MS = 3600_000;
/** A writer thread loads in well under a second; a minute means it cannot open the store. */
const WRITER_START_MS = 60_000;

/** `promise`, or a failure with `message` once `ms` passed. */
async function withinMs<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)));
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

export interface GatewayOptions {
  readonly loaded: LoadedConfig;
  /** HOST:PORT; overrides the config's `listen`. Port 0 picks a free port. */
  readonly listen?: string;
  /** Test seams: replace the identity source or the upstream fetch. */
  readonly resolver?: IdentityResolver;
  readonly fetch?: typeof fetch;
  readonly logIntervalMs?: number;
  /** Rows waiting to be logged beyond which new requests are refused (503). */
  readonly logQueueLimit?: number;
  readonly log?: (message: string) => void;
  /** The file `loaded` came from: enables the config API, reloadConfig() (SIGHUP) and reloads when it changes. */
  readonly configPath?: string;
  readonly configDebounceMs?: number;
  /**
   * The process that speaks for all of `keyless serve --workers N` (default true; false in all workers but one): it
   * says the startup warnings once and audits a config file change once, though every worker applies it.
   */
  readonly leadWorker?: boolean;
}

export interface RunningGateway {
  readonly url: string;
  readonly port: number;
  readonly store: Store;
  /** This replica's name in claims and leases. */
  readonly replica: string;
  readonly requestLog: RequestLog;
  /** Where budgets are reserved (the store itself, or quota_store). */
  readonly buckets: BucketStore;
  /** The S3 export (config `export`), run by one replica every `export.every`; null when not configured. */
  readonly usageExport: UsageExport | null;
  config(): Config;
  /** Swaps the running config (validated by the caller); requests already in flight keep the one they started with. */
  replaceConfig(next: LoadedConfig): void;
  /** Re-reads the config file (SIGHUP); an invalid file leaves the running config in place. */
  reloadConfig(): { readonly ok: boolean; readonly problems: readonly string[] };
  /** Stops accepting, waits for in-flight requests (up to `graceMs`), flushes the log, closes the store. */
  close(graceMs?: number): Promise<void>;
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
  const lead = options.leadWorker ?? true;
  if (listenAdvice && lead) say(`keyless: ${listenAdvice}`);
  const store = await openStore(config.database);
  const replica = `${hostName()}:${process.pid}:${randomBytes(3).toString("hex")}`;
  const onModuleError = (err: unknown, context: string) => say(`keyless: ${context}: ${String(err)}`);
  const { log: requestLog, reserve } = openRequestLog(store, config.database, {
    intervalMs: options.logIntervalMs,
    maxPending: options.logQueueLimit,
    queueForExport: config.export !== undefined,
    onError: (err) => say(`keyless: request log write failed (will retry): ${String(err)}`),
  });
  let buckets: BucketStore;
  try {
    // Requests are served only once their rows can be written: a writer thread still loading would hold every row
    // of the first seconds in memory, where a crash loses them.
    await withinMs(requestLog.flush(), WRITER_START_MS, `the request log's writer did not start within ${WRITER_START_MS / 1000} s`);
    buckets = await openBucketStore(config.quota_store, { store, database: config.database, onError: onModuleError, replica, ...(reserve ? { reserve } : {}) });
  } catch (err) {
    await requestLog.close();
    await store.close();
    throw err;
  }
  const metrics = createMetrics();
  observeRequestLog(metrics.registry, requestLog);
  // Loaded only when configured: a gateway without telemetry runs none of OpenTelemetry's code.
  const telemetry = config.telemetry
    ? (await import("./telemetry/index.js")).createTelemetry(config.telemetry, { version: packageVersion(), instance: replica, onError: onModuleError })
    : null;
  const upstream = createUpstreamClient({
    headersTimeoutMs: config.limits.upstream_timeout,
    bodyTimeoutMs: config.limits.upstream_timeout,
  });
  const ci = createCiModule({
    getConfig,
    store,
    replica,
    claimLeaseMs: config.database.claim_lease,
    balance: async (bucket, quota) => {
      const def = getConfig().quotas[quota];
      return def ? (await buckets.peek({ bucket, quota, def })).balance : null;
    },
    flushLog: () => requestLog.flush(),
    onError: (err, context) => say(`keyless: ${context}: ${String(err)}`),
  });
  const pricer = createPricer(config.prices);
  const quotas = createQuotaModule({ store: buckets, pricer, sessionFor: ci.sessionFor });
  const audit = new ConfigAudit(store, (err) => onModuleError(err, "config audit"));
  // Every worker reloads a changed file on its own; an edit through the API is audited by the worker that took it.
  const auditChanges: Pick<ConfigAudit, "record"> = lead ? audit : { record: async (change) => (change.source === "api" ? audit.record(change) : undefined) };
  const live = options.configPath
    ? new LiveConfig({ path: options.configPath, initial: loaded, apply: (next) => (loaded = next), audit: auditChanges, log: say, debounceMs: options.configDebounceMs })
    : null;
  const configApi: GatewayModule = { name: "config", mount: (app) => mountConfigApi(app, { live, audit, getConfig }) };
  const secrets = createSecretsModule();
  const tools = createToolsModule({ store, onError: onModuleError, secrets });
  const resolver = options.resolver ?? createResolver(config.identity);
  const hooks = createHooksModule({
    store,
    replica,
    leaseMs: config.database.claim_lease,
    hooks: () => getConfig().hooks,
    userAgent: `keyless/${packageVersion()}`,
    toolCalls: tools.records,
    onError: onModuleError,
    tailnetName: () => resolver.tailnetSuffix(),
    quotas: (ex) => quotaViews(buckets, chargesFrom(ex.entitlement.quotas, ex.identity, ex.session, ex.caller.config.quotas).charges),
  });
  const ui = createUiModule({ store, log: requestLog, buckets, sessionFor: ci.sessionFor });
  const rateLimits: GatewayModule = { name: "rate-limits", plugin: rateLimitPlugin({ store: buckets, pricer, onError: onModuleError }) };
  const alerts: GatewayModule = {
    name: "budget-alerts",
    plugin: budgetAlertsPlugin({ store, buckets, outbox: hooks.outbox, kick: () => hooks.kick(), onError: onModuleError }),
  };
  const websocket = createWebSocketModule({ getConfig, onError: onModuleError });
  const routing = createRoutingModule({ store, registry: metrics.registry, getConfig });
  const modules = pipeline({ ci, secrets, hooks, guardrails: tools, rateLimits, quotas, alerts, routing, websocket, config: configApi, ui });
  const app = createApp({
    getConfig,
    version: packageVersion(),
    resolver,
    onError: onModuleError,
    log: requestLog,
    pricer,
    catalog: createModelCatalog(),
    metrics,
    ...(telemetry ? { tracer: telemetry } : {}),
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

  const retention = effectiveRetention(config.database.retention, config.export !== undefined);
  // The AWS SDK is loaded only when an export is configured.
  const sink = config.export ? (await import("./export/s3.js")).s3Sink(config.export.s3) : null;
  const usageExport = config.export && sink ? new UsageExport(store, config.export, sink) : null;
  if (usageExport) registerExportMetrics(metrics.registry, usageExport);
  // One replica purges per hour (the lease outlives the interval, so the holder keeps it while it runs).
  const purge = async () => {
    if (retention.afterMs === null) return;
    const now = Date.now();
    if (!(await takeLease(store, "retention", replica, now, RETENTION_EVERY_MS + 60_000))) return;
    const purged = await requestLog.purgeCaptures(now - retention.afterMs, retention.requireExport);
    const dead = await hooks.outbox.purgeDead(now - retention.afterMs);
    if (purged > 0) say(`keyless: retention purged ${purged} captures older than ${retention.text}`);
    if (dead > 0) say(`keyless: retention purged ${dead} outbox dead letters older than ${retention.text}`);
  };
  const runPurge = () => void purge().catch((err: unknown) => onModuleError(err, "retention"));
  runPurge();
  const purgeTimer = setInterval(runPurge, RETENTION_EVERY_MS).unref();
  // One replica exports per interval; a run that outlasts its lease is still safe (a row is claimed into one batch).
  const runExport = async (exporter: UsageExport, everyMs: number) => {
    const now = Date.now();
    if (!(await takeLease(store, "export", replica, now, everyMs + 60_000))) return;
    const run = await exporter.run(now);
    if (run.rows > 0) say(`keyless: exported ${run.rows} requests in ${run.objects} objects`);
  };
  const exportEvery = config.export?.every ?? 0;
  // The run in progress, which close() lets finish before the store closes.
  let exporting: Promise<void> = Promise.resolve();
  const startExport = () => {
    if (usageExport) exporting = runExport(usageExport, exportEvery).catch((err: unknown) => onModuleError(err, "export"));
  };
  // At start too: a gateway restarted more often than `every` still exports.
  startExport();
  const exportTimer = usageExport ? setInterval(startExport, exportEvery).unref() : null;
  ci.start();
  live?.watch();
  hooks.start();

  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    store,
    replica,
    requestLog,
    buckets,
    usageExport,
    config: getConfig,
    reloadConfig() {
      if (!live) return { ok: false, problems: ["the gateway was started without a config file"] };
      const result = live.reload("sighup");
      return { ok: result.ok, problems: result.ok ? [] : result.problems };
    },
    async close(graceMs = 10_000) {
      clearInterval(purgeTimer);
      if (exportTimer) clearInterval(exportTimer);
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
      await telemetry?.shutdown().catch((err: unknown) => onModuleError(err, "OpenTelemetry shutdown"));
      await requestLog.close();
      await ci.stop();
      await hooks.stop();
      // After the log's last write: its settlements are handed to the store before it closes.
      await buckets.close();
      await exporting;
      sink?.close();
      await store.close();
    },
    replaceConfig(next) {
      loaded = next;
    },
  };
}
