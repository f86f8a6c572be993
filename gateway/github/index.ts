// Wires CI sessions into the gateway: the session store, the GitHub App client, the check-run loop and the routes.
import type { Hono } from "hono";
import type { Store } from "../store/db.js";
import type { SessionSummary } from "../../src/ci-session.js";
import { mountCiApi, mountCiPublicApi } from "./api.js";
import type { GitHubConfig } from "../config/github.js";
import type { Config } from "../config/schema.js";
import type { GatewayEnv } from "../http/env.js";
import type { Identity } from "../identity/types.js";
import { type BucketBalanceReader, prTotals, sessionActivity, sessionReportReading } from "../store/session-report.js";
import { type SessionRecord, SessionStore, toWire } from "../store/sessions.js";
import { CheckRunSync, type GitHubClient, createAppClient } from "./checks.js";
import type { ReportData } from "../../src/ci-session.js";
import { isFlagged, renderMarkdown, renderTitle } from "./render.js";
import { prPagePath } from "../ui/schemas/paths.js";
import type { SessionRef } from "../proxy/exchange.js";
import { SessionService } from "./sessions.js";
import { tokenFromRequest } from "./tokens.js";

/** How often each replica re-reads the sessions with live tokens. */
const TOKEN_REFRESH_MS = 1_000;

export interface CiModuleDeps {
  readonly getConfig: () => Config;
  readonly store: Store;
  /** This replica, as written in its check-run write claims, and how long a claim holds. */
  readonly replica?: string;
  readonly claimLeaseMs?: number;
  /** What is left in a budget bucket now (from the quota store), for the report's budget section. */
  readonly balance?: BucketBalanceReader;
  readonly flushLog?: () => Promise<void>;
  readonly fetch?: typeof fetch;
  readonly now?: () => number;
  readonly onError?: (err: unknown, context: string) => void;
}

export interface CiModule {
  readonly name: "ci";
  readonly service: SessionService;
  readonly sync: CheckRunSync;
  /** The per-request session lookup (AppDeps.sessionFor). */
  sessionFor(identity: Identity): SessionRef | null;
  /** A session token's identity for callers off the tailnet (AppDeps.credentialIdentity). */
  credentialIdentity(request: Request, addr: string): Identity | null;
  mount(app: Hono<GatewayEnv>): void;
  mountPublic(app: Hono<GatewayEnv>): void;
  summarize(session: SessionRecord): Promise<SessionSummary>;
  /** Starts the check-run loop (it ticks often enough for the configured update interval). */
  start(): void;
  stop(): Promise<void>;
}

export function createCiModule(deps: CiModuleDeps): CiModule {
  const github = () => deps.getConfig().github;
  const store = new SessionStore(deps.store, deps.replica);
  let client: { key: string; client: GitHubClient } | null = null;
  const githubClient = (): GitHubClient | null => {
    const cfg = github();
    if (!cfg?.app) return null;
    const key = JSON.stringify([cfg.app.id, cfg.app.private_key, cfg.api_url]);
    if (client?.key !== key) {
      const opts = { appId: cfg.app.id, privateKey: cfg.app.private_key, baseUrl: cfg.api_url };
      client = { key, client: createAppClient(deps.fetch ? { ...opts, fetch: deps.fetch } : opts) };
    }
    return client.client;
  };
  const detailsUrl = (cfg: GitHubConfig | undefined, id: string) =>
    cfg?.public_url ? `${cfg.public_url}/ci/sessions/${id}` : undefined;
  const prPageUrl = (cfg: GitHubConfig | undefined, s: SessionRecord) => (cfg?.public_url && s.pr_number !== null ? `${cfg.public_url}${prPagePath(s.repository, s.pr_number)}` : null);

  const balance = deps.balance ?? (async () => null);
  const report = async (s: SessionRecord): Promise<ReportData> => ({ session: toWire(s), ...(await sessionReportReading(deps.store, s, balance)) });
  const summarize = async (s: SessionRecord): Promise<SessionSummary> => {
    const data = await report(s);
    return { ...data, markdown: renderMarkdown(data, { detailsUrl: detailsUrl(github(), s.id) ?? null, prPageUrl: prPageUrl(github(), s) }) };
  };

  const sync = new CheckRunSync({
    store,
    github: githubClient,
    activity: (ids) => sessionActivity(deps.store, ids),
    view: async (s) => {
      const data = await report(s);
      return {
        marker: (await sessionActivity(deps.store, [s.id])).get(s.id)?.marker ?? "",
        title: renderTitle(data),
        summary: renderMarkdown(data, { detailsUrl: detailsUrl(github(), s.id) ?? null, prPageUrl: prPageUrl(github(), s) }),
        flagged: isFlagged(data),
      };
    },
    settings: () => {
      const cfg = github();
      const checks = cfg?.checks;
      return {
        name: checks?.name ?? "AI usage",
        updateIntervalMs: checks?.update_interval ?? 30_000,
        idleTimeoutMs: checks?.idle_timeout ?? 3_600_000,
        conclusionWhenFlagged: checks?.conclusion_when_flagged ?? "neutral",
        detailsUrl: (id) => detailsUrl(cfg, id),
      };
    },
    ...(deps.now ? { now: deps.now } : {}),
    ...(deps.onError ? { onError: deps.onError } : {}),
    ...(deps.claimLeaseMs ? { claimLeaseMs: deps.claimLeaseMs } : {}),
  });
  const service = new SessionService({
    config: github,
    store,
    github: githubClient,
    sync,
    ...(deps.flushLog ? { flushLog: deps.flushLog } : {}),
    ...(deps.now ? { now: deps.now } : {}),
  });

  const onError = deps.onError ?? (() => undefined);
  /** Session tokens are checked synchronously (identity comes first); this keeps every replica's token index fresh. */
  let tokenTimer: NodeJS.Timeout | null = null;
  const refreshTokens = () => void service.refreshTokens().catch((err: unknown) => onError(err, "CI session tokens refresh"));

  return {
    name: "ci",
    service,
    sync,
    sessionFor: (identity) => (github() ? service.lookup(identity) : null),
    credentialIdentity: (request, addr) => {
      const token = github() ? tokenFromRequest(request.headers, request.url) : null;
      return token ? service.identityForToken(token, addr) : null;
    },
    mountPublic: (app) => mountCiPublicApi(app, service),
    summarize,
    start() {
      const interval = github()?.checks.update_interval ?? 30_000;
      sync.start(Math.min(2_000, Math.max(20, Math.floor(interval / 5))));
      refreshTokens();
      tokenTimer = setInterval(refreshTokens, TOKEN_REFRESH_MS).unref();
    },
    stop: () => {
      if (tokenTimer) clearInterval(tokenTimer);
      return sync.stop();
    },
    mount(app) {
      // The per-request session lookup is synchronous; read the caller's node from the store first (cached briefly).
      app.use("*", async (c, next) => {
        if (github()) await service.warm(c.var.identity).catch((err: unknown) => onError(err, "CI session lookup"));
        await next();
      });
      mountCiApi(app, {
        getConfig: deps.getConfig,
        service,
        store,
        summarize,
        prTotals: (repositoryId, prNumber) => prTotals(deps.store, repositoryId, prNumber),
      });
    },
  };
}
