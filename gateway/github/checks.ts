// The gateway as a GitHub App (check runs, PR lookups; installation found per repository), and the loop that keeps
// each session's check run current: throttled while the session changes, completed at finish or after an idle timeout,
// retried with backoff from a durable pending record so a GitHub outage only delays the final state.
// octokit's own retry and throttling are off: failures surface at once and the loop retries.
import { App, Octokit } from "octokit";

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
