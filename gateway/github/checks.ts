// The gateway as a GitHub App (check runs, PR lookups; installation found per repository), and the loop that keeps
// each session's check run current: throttled while the session changes, completed at finish or after an idle timeout,
// retried with the outbox's backoff (and jitter) from a durable pending record so a GitHub outage only delays the final
// state. A replica writes a session's check run only while it holds the claim on the session's outbox row
// (store/outbox.ts, kind "check_run"), so replicas sharing a store never race on one check run.
// octokit's own retry and throttling are off: failures surface at once and the loop retries.
import { App, Octokit } from "octokit";
import type { Backoff } from "../store/outbox.js";
import type { SessionRecord, SessionStore } from "../store/sessions.js";

export interface RepoRef {
  readonly owner: string;
  readonly repo: string;
}

export type Conclusion = "neutral" | "failure" | "action_required" | "success";

export interface CheckRunOutput {
  readonly title: string;
  readonly summary: string;
}

export interface CheckRunWrite {
  readonly name?: string;
  readonly head_sha?: string;
  readonly details_url?: string;
  readonly external_id?: string;
  readonly status?: "in_progress" | "completed";
  readonly started_at?: string;
  readonly conclusion?: Conclusion;
  readonly completed_at?: string;
  readonly output?: CheckRunOutput;
}

export interface PullInfo {
  readonly number: number;
  readonly headSha: string;
  /** The repository the PR belongs to (base), as GitHub's numeric id. */
  readonly baseRepoId: string;
  readonly state: string;
}

export class GitHubError extends Error {
  constructor(
    message: string,
    /** HTTP status, or null when GitHub could not be reached. */
    readonly status: number | null,
  ) {
    super(message);
    this.name = "GitHubError";
  }
}

export interface GitHubClient {
  createCheckRun(repo: RepoRef, body: CheckRunWrite & { name: string; head_sha: string }): Promise<{ id: number; url: string }>;
  updateCheckRun(repo: RepoRef, id: number, body: CheckRunWrite): Promise<void>;
  /** null when the PR does not exist in that repository. */
  getPull(repo: RepoRef, number: number): Promise<PullInfo | null>;
}

export interface AppClientOptions {
  readonly appId: string;
  readonly privateKey: string;
  readonly baseUrl: string;
  /** Per-request timeout; GitHub being slow must not pile up work. */
  readonly timeoutMs?: number;
  readonly fetch?: typeof fetch;
}

type InstallationOctokit = InstanceType<typeof Octokit>;

const INSTALLATION_TTL_MS = 3_600_000;

export function createAppClient(opts: AppClientOptions): GitHubClient {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const baseFetch = opts.fetch ?? fetch;
  const timedFetch: typeof fetch = (input, init) => {
    const signal = init?.signal ? AbortSignal.any([init.signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs);
    return baseFetch(input, { ...init, signal });
  };
  const app = new App({
    appId: opts.appId,
    privateKey: opts.privateKey,
    Octokit: Octokit.defaults({
      baseUrl: opts.baseUrl,
      userAgent: "keyless-gateway",
      retry: { enabled: false },
      throttle: { enabled: false },
      request: { fetch: timedFetch },
    }),
  });
  const installations = new Map<string, { id: number; at: number }>();
  const clients = new Map<number, InstallationOctokit>();

  async function forRepo(repo: RepoRef): Promise<InstallationOctokit> {
    const key = `${repo.owner}/${repo.repo}`.toLowerCase();
    let inst = installations.get(key);
    if (!inst || Date.now() - inst.at > INSTALLATION_TTL_MS) {
      const { data } = await call(`look up the app installation for ${key}`, () =>
        app.octokit.rest.apps.getRepoInstallation({ owner: repo.owner, repo: repo.repo }),
      );
      inst = { id: data.id, at: Date.now() };
      installations.set(key, inst);
    }
    let client = clients.get(inst.id);
    if (!client) {
      const id = inst.id;
      client = (await call(`authenticate as installation ${id}`, () => app.getInstallationOctokit(id))) as InstallationOctokit;
      clients.set(id, client);
    }
    return client;
  }

  /** Runs a GitHub call, turning failures into GitHubError; a 401/404 also forgets the cached installation. */
  async function withRepo<T>(repo: RepoRef, what: string, fn: (o: InstallationOctokit) => Promise<T>): Promise<T> {
    const o = await forRepo(repo);
    try {
      return await call(what, () => fn(o));
    } catch (err) {
      if (err instanceof GitHubError && (err.status === 401 || err.status === 404)) {
        installations.delete(`${repo.owner}/${repo.repo}`.toLowerCase());
      }
      throw err;
    }
  }

  return {
    async createCheckRun(repo, body) {
      const { data } = await withRepo(repo, `create a check run on ${repo.owner}/${repo.repo}`, (o) =>
        o.rest.checks.create({ owner: repo.owner, repo: repo.repo, ...body }),
      );
      return { id: data.id, url: data.html_url ?? "" };
    },
    async updateCheckRun(repo, id, body) {
      await withRepo(repo, `update check run ${id} on ${repo.owner}/${repo.repo}`, (o) =>
        o.rest.checks.update({ owner: repo.owner, repo: repo.repo, check_run_id: id, ...body }),
      );
    },
    async getPull(repo, number) {
      const o = await forRepo(repo); // a 404 here means "not installed", not "no such PR"
      try {
        const { data } = await call(`read PR #${number} of ${repo.owner}/${repo.repo}`, () =>
          o.rest.pulls.get({ owner: repo.owner, repo: repo.repo, pull_number: number }),
        );
        return { number: data.number, headSha: data.head.sha, baseRepoId: String(data.base.repo.id), state: data.state };
      } catch (err) {
        if (err instanceof GitHubError && err.status === 404) return null;
        throw err;
      }
    },
  };
}

async function call<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    // octokit reports a network failure as status 500 without a response; that is "unreachable", not a 500.
    const e = err as { status?: unknown; response?: unknown };
    const status = typeof e.status === "number" && e.response !== undefined ? e.status : null;
    const detail = err instanceof Error ? err.message : String(err);
    throw new GitHubError(`GitHub: could not ${what}: ${status ? `${status} ` : ""}${detail}`, status);
  }
}

// --- The check-run sync loop ---

/** How a session's check run looks right now, and the activity marker it reflects. */
export interface CheckRunView {
  readonly marker: string;
  readonly title: string;
  readonly summary: string;
  readonly flagged: boolean;
}

export interface CheckSyncDeps {
  readonly store: SessionStore;
  /** Null while no GitHub App is configured: sessions still close when idle, nothing is written. */
  readonly github: () => GitHubClient | null;
  /** Activity markers (they change whenever a session's report would) and last activity times, per session. */
  readonly activity: (ids: readonly string[]) => Promise<ReadonlyMap<string, { marker: string; lastAt: number }>>;
  readonly view: (session: SessionRecord) => CheckRunView | Promise<CheckRunView>;
  readonly settings: () => CheckSyncSettings;
  readonly now?: () => number;
  readonly random?: () => number;
  /** A write claim lasts this long: more than a write takes (GitHub calls time out after 15 s). */
  readonly claimLeaseMs?: number;
  readonly onError?: (err: unknown, context: string) => void;
}

export interface CheckSyncSettings {
  readonly name: string;
  readonly updateIntervalMs: number;
  readonly idleTimeoutMs: number;
  readonly conclusionWhenFlagged: Conclusion;
  readonly detailsUrl: (sessionId: string) => string | undefined;
}

/** Retry delays after a failed write: 5 s doubling to 10 min; a write pending for 3 days becomes a dead letter. */
const BACKOFF: Backoff = { baseMs: 5_000, maxMs: 600_000 };
const GIVE_UP_MS = 3 * 86_400_000;
/** A finished session keeps being watched this long: late-logged requests, or an idle-closed job that was only slow. */
const WATCH_AFTER_FINISH_MS = 86_400_000;

export class CheckRunSync {
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly inflight = new Map<string, Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;

  constructor(private readonly deps: CheckSyncDeps) {
    this.now = deps.now ?? Date.now;
    this.random = deps.random ?? Math.random;
  }

  /** Runs `tick` every `everyMs` until stop(). The timer does not keep the process alive. */
  start(everyMs = 2_000): void {
    this.timer ??= setInterval(() => void this.tick(), everyMs).unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.ticking;
    await Promise.allSettled([...this.inflight.values()]);
  }

  /** One pass: close idle sessions, schedule writes for changed ones, perform the writes that are due. */
  tick(): Promise<void> {
    this.ticking ??= this.pass().finally(() => (this.ticking = null));
    return this.ticking;
  }

  /** Writes one session's check run now (session start and finish), waiting at most `timeoutMs`. */
  async flush(sessionId: string, timeoutMs: number): Promise<void> {
    if (!this.deps.github()) return;
    await this.deps.store.expedite(sessionId, this.now());
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([this.write(sessionId), timeout]);
    clearTimeout(timer);
  }

  private async pass(): Promise<void> {
    const { store } = this.deps;
    const settings = this.deps.settings();
    const now = this.now();
    const writing = this.deps.github() !== null;
    try {
      const live = await store.live(now - WATCH_AFTER_FINISH_MS);
      const activity = await this.deps.activity(live.map((s) => s.id));
      for (const s of live) {
        const act = activity.get(s.id);
        const lastAt = Math.max(act?.lastAt ?? 0, s.started_at);
        if (s.finished_at === null && now - lastAt >= settings.idleTimeoutMs) {
          await store.finish(s.id, "idle", now);
          if (writing) await store.expedite(s.id, now);
          continue;
        }
        if (!writing) continue;
        const marker = act?.marker ?? "";
        const finishedUnwritten = s.finished_at !== null && s.check_completed === 0;
        if (s.check_run_id === null || finishedUnwritten) await store.markPending(s.id, now, now);
        else if (marker !== s.check_marker) await store.markPending(s.id, Math.max(now, (s.check_sent_at ?? 0) + settings.updateIntervalMs), now);
      }
      if (!writing) return;
      for (const p of await store.claimDue(now, this.deps.claimLeaseMs ?? 60_000)) await this.write(p.key);
    } catch (err) {
      this.deps.onError?.(err, "check runs: scanning sessions");
    }
  }

  /** Writes a session's check run; one write per session at a time. */
  private write(sessionId: string): Promise<void> {
    const running = this.inflight.get(sessionId);
    if (running) return running;
    const job = this.attempt(sessionId).finally(() => this.inflight.delete(sessionId));
    this.inflight.set(sessionId, job);
    return job;
  }

  private async attempt(sessionId: string): Promise<void> {
    const { store } = this.deps;
    const github = this.deps.github();
    if (!github) return;
    const now = this.now();
    // Another replica is writing this check run: it will write the newest state.
    if (!(await store.claim(sessionId, now, this.deps.claimLeaseMs ?? 60_000))) return;
    const s = await store.get(sessionId);
    const pending = await store.pending(sessionId);
    if (!s || !pending) return;
    const settings = this.deps.settings();
    const view = await this.deps.view(s);
    const done = s.finished_at !== null;
    const repo = { owner: s.repository.split("/")[0] ?? s.owner, repo: s.repository.split("/")[1] ?? "" };
    const details = settings.detailsUrl(s.id);
    const final: CheckRunWrite = done
      ? {
          conclusion: view.flagged ? settings.conclusionWhenFlagged : "neutral",
          completed_at: new Date(s.finished_at ?? now).toISOString(),
        }
      : {};
    const output = { title: view.title, summary: view.summary };
    try {
      if (s.check_run_id === null) {
        const created = await github.createCheckRun(repo, {
          name: settings.name,
          head_sha: s.head_sha ?? s.sha,
          external_id: s.id,
          started_at: new Date(s.started_at).toISOString(),
          ...(details ? { details_url: details } : {}),
          ...(done ? final : { status: "in_progress" as const }),
          output,
        });
        await store.setCheckRun(s.id, created.id, created.url || null);
      } else {
        await github.updateCheckRun(repo, s.check_run_id, { ...final, output });
      }
      await store.checkSent(s.id, view.marker, now, done);
      await store.pendingDone(s.id);
    } catch (err) {
      const attempts = pending.attempts + 1;
      const error = err instanceof Error ? err.message : String(err);
      if (now - pending.createdAt > GIVE_UP_MS) {
        // Recorded as written so the scan stops asking, and kept as a dead letter; new activity asks again.
        await store.checkSent(s.id, view.marker, now, done);
        await store.pendingDead(s.id, now, error);
        this.deps.onError?.(err, `check run for session ${s.id}: giving up after ${attempts} attempts (dead letter)`);
        return;
      }
      const delay = await store.pendingFailed(pending, now, BACKOFF, error, this.random);
      this.deps.onError?.(err, `check run for session ${s.id} (attempt ${attempts}, next in ${delay / 1000}s)`);
    }
  }
}
