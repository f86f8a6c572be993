// CI sessions: a verified Actions job bound to the caller's tailnet node, so that node's requests are attributed to it.
import { randomUUID } from "node:crypto";
import type { CreateSessionRequest, CreateSessionResponse, Session } from "../../src/ci-session.js";
import type { GitHubConfig } from "../config/github.js";
import type { Identity } from "../identity/types.js";
import type { SessionRef } from "../proxy/exchange.js";
import { type NewSession, type SessionRecord, type SessionStore, toWire } from "../store/sessions.js";
import { type CheckRunSync, type GitHubClient, GitHubError } from "./checks.js";
import { type ActionsClaims, type OidcVerifier, createOidcVerifier } from "./oidc.js";
import { type RepoCheck, checkMapping, checkRepository, findMapping, requiredTags } from "./repos.js";
import { hashToken, newSessionToken } from "./tokens.js";

export type Refusal = { readonly ok: false; readonly status: 400 | 401 | 403 | 404 | 503; readonly code: string; readonly message: string };
export type Result<T> = { readonly ok: true; readonly value: T } | Refusal;

const refuse = (status: Refusal["status"], code: string, message: string): Refusal => ({ ok: false, status, code, message });

export interface SessionServiceDeps {
  readonly config: () => GitHubConfig | undefined;
  readonly store: SessionStore;
  /** Null when no GitHub App is configured: no check runs, and PR numbers only from a signed `ref`. */
  readonly github: () => GitHubClient | null;
  readonly sync: CheckRunSync | null;
  readonly now?: () => number;
  /** Tests inject a verifier; otherwise one is built (and rebuilt on config change) from the config. */
  readonly verifier?: OidcVerifier;
  /** How long session start and finish wait for the check-run write before answering anyway. */
  readonly checkWaitMs?: number;
  /** Writes queued request rows, so the final check run and summary include the job's last requests. */
  readonly flushLog?: () => Promise<void>;
}

const PULL_REQUEST_REF = /^refs\/pull\/(\d+)\/merge$/;
/** Events whose job runs on the base branch, so the token's sha says nothing about the PR's head. */
const RUNS_ON_BASE = new Set(["issue_comment", "pull_request_target", "workflow_run"]);
/**
 * How long a node's session lookup is reused. Replicas sharing a store see each other's starts and finishes within
 * this (the CI module refreshes a node's entry before its request, see warm()).
 */
const LOOKUP_TTL_MS = 1_000;

export class SessionService {
  private readonly now: () => number;
  private verifier: { key: string; verify: OidcVerifier } | null = null;
  /** Per-node lookups are on every request; cache them briefly (start and finish invalidate). */
  private readonly lookups = new Map<string, { ref: SessionRef | null; at: number }>();
  /** Sessions with a live token, by token hash: session tokens are checked before a request has any async step. */
  private tokens: { byHash: Map<string, SessionRecord>; at: number } = { byHash: new Map(), at: 0 };
  private refreshingTokens: Promise<void> | null = null;
  /** Bumped by every finish here: a token refresh that read the store before it is stale and is dropped. */
  private finishes = 0;

  constructor(private readonly deps: SessionServiceDeps) {
    this.now = deps.now ?? Date.now;
  }

  private verify(config: GitHubConfig): OidcVerifier {
    if (this.deps.verifier) return this.deps.verifier;
    const o = config.oidc;
    const key = JSON.stringify([o.issuer, o.jwks_url, o.audience, o.clock_tolerance]);
    if (this.verifier?.key !== key) {
      const store = this.deps.store;
      const verify = createOidcVerifier({
        issuer: o.issuer,
        audience: o.audience,
        clockToleranceMs: o.clock_tolerance,
        ledger: { claim: (jti, expiresAt) => store.claimJti(jti, expiresAt, this.now()) },
        now: this.now,
        ...(o.jwks_url ? { jwksUrl: o.jwks_url } : {}),
      });
      this.verifier = { key, verify };
    }
    return this.verifier.verify;
  }

  /** POST /v1/ci/sessions: verifies the token, the repository mapping and the PR, then binds a session to the node. */
  async start(who: Identity, req: CreateSessionRequest): Promise<Result<CreateSessionResponse>> {
    const admitted = await this.admit(req, (repos, claims) => checkRepository(repos, claims, who));
    if (!admitted.ok) return admitted;
    const { claims, pr } = admitted.value;
    const nodeId = who.nodeId!; // checkRepository refuses callers without a node
    const existing = await this.deps.store.openForJob(nodeId, claims.repository_id, claims.run_id, claims.run_attempt);
    if (existing) return { ok: true, value: { session: toWire(existing), resumed: true } };
    const id = newSessionId();
    await this.create(id, claims, pr, req, { node_id: nodeId, token_hash: null, token_expires_at: null });
    this.lookups.delete(nodeId);
    return { ok: true, value: { session: toWire((await this.deps.store.get(id))!), resumed: false } };
  }

  /**
   * POST /v1/ci/sessions with `session_token: true`, from a runner off the tailnet: the OIDC token alone admits it, so
   * only repositories whose mapping sets `session_tokens` get one. The token stands in for a node with the mapped tags.
   */
  async startWithToken(req: CreateSessionRequest): Promise<Result<CreateSessionResponse>> {
    const admitted = await this.admit(req, (repos, claims) => {
      const m = checkMapping(repos, claims);
      if (!m.ok || m.mapping.session_tokens) return m;
      return { ok: false, code: "session_tokens_disabled", message: `github.repos["${m.pattern}"] does not allow session tokens (session_tokens: true); join the tailnet instead` };
    });
    if (!admitted.ok) return admitted;
    const { claims, pr, config } = admitted.value;
    const id = newSessionId();
    const token = newSessionToken();
    // One clock reading: the token lives exactly session_token_ttl from the session's start.
    const startedAt = this.now();
    const expires = startedAt + config.session_token_ttl;
    await this.create(id, claims, pr, req, { node_id: `token:${id}`, token_hash: hashToken(token), token_expires_at: expires }, startedAt);
    const created = (await this.deps.store.get(id))!;
    this.tokens.byHash.set(created.token_hash ?? "", created);
    const session = toWire(created);
    return { ok: true, value: { session, resumed: false, session_token: token, session_token_expires_at: new Date(expires).toISOString() } };
  }

  /** The identity a session token stands for, while its session is open and its mapping still allows tokens. */
  identityForToken(token: string, addr: string): Identity | null {
    const config = this.deps.config();
    const s = config ? (this.tokens.byHash.get(hashToken(token)) ?? null) : null;
    if (!config || !s || s.token_expires_at === null || s.token_expires_at <= this.now()) return null;
    const match = findMapping(config.repos, s.repository, s.repository_id);
    if (!match?.mapping.session_tokens) return null;
    const tags = Object.freeze([...requiredTags(match.mapping, s.repository)].sort());
    return Object.freeze({
      principal: tags.join(","),
      login: null,
      nodeId: s.node_id,
      nodeName: `session token of ${s.repository} run ${s.run_id}`,
      tags,
      groups: Object.freeze([]),
      capMap: Object.freeze({}),
      addr,
    });
  }

  /** The checks every session start shares: config, OIDC token, repository (via `check`), PR. */
  private async admit(
    req: CreateSessionRequest,
    check: (repos: GitHubConfig["repos"], claims: ActionsClaims) => RepoCheck,
  ): Promise<Result<{ claims: ActionsClaims; pr: { number: number | null; headSha: string }; config: GitHubConfig }>> {
    const config = this.deps.config();
    if (!config) return refuse(404, "ci_disabled", "CI sessions are not configured on this gateway (no github section)");
    const verified = await this.verify(config)(req.oidc_token);
    if (!verified.ok) return refuse(verified.code === "oidc_jwks_unavailable" ? 503 : 401, verified.code, verified.message);
    const repo = check(config.repos, verified.claims);
    if (!repo.ok) return refuse(403, repo.code, repo.message);
    const pr = await this.resolvePr(verified.claims, req);
    if (!pr.ok) return pr;
    return { ok: true, value: { claims: verified.claims, pr: pr.value, config } };
  }

  private async create(
    id: string,
    claims: ActionsClaims,
    pr: { number: number | null; headSha: string },
    req: CreateSessionRequest,
    binding: Pick<NewSession, "node_id" | "token_hash" | "token_expires_at">,
    startedAt = this.now(),
  ): Promise<void> {
    await this.deps.store.insert({
      id,
      ...binding,
      repository: claims.repository,
      repository_id: claims.repository_id,
      owner: claims.repository_owner,
      owner_id: claims.repository_owner_id,
      pr_number: pr.number,
      head_sha: pr.headSha,
      sha: claims.sha,
      run_id: claims.run_id,
      run_attempt: claims.run_attempt,
      workflow: claims.workflow,
      job: req.job ?? null,
      actor: claims.actor,
      event: claims.event_name,
      ref: claims.ref,
      started_at: startedAt,
    });
    await this.deps.sync?.flush(id, this.deps.checkWaitMs ?? 5_000);
  }

  /**
   * The PR a session belongs to and the commit its check run goes on. pull_request events carry the number in the
   * signed `ref`; for other events the Action's number is confirmed with the GitHub API (same repository, same head).
   */
  private async resolvePr(claims: ActionsClaims, req: CreateSessionRequest): Promise<Result<{ number: number | null; headSha: string }>> {
    const fromRef = PULL_REQUEST_REF.exec(claims.ref);
    if (fromRef) {
      const number = Number(fromRef[1]);
      if (req.pr_number !== undefined && req.pr_number !== number) {
        return refuse(403, "pr_mismatch", `pr_number ${req.pr_number} does not match the token's ref ${claims.ref}`);
      }
      // The signed sha is the merge commit; the check run belongs on the PR head, which the Action reads from the event.
      const headSha = req.head_sha ?? (await this.headOf(claims, number)) ?? claims.sha;
      return { ok: true, value: { number, headSha } };
    }
    if (req.pr_number === undefined) {
      if (req.head_sha !== undefined && req.head_sha !== claims.sha) {
        return refuse(403, "head_sha_mismatch", `head_sha ${req.head_sha} is not the token's sha ${claims.sha}; only PR sessions name another commit`);
      }
      return { ok: true, value: { number: null, headSha: claims.sha } };
    }
    const n = req.pr_number;
    const github = this.deps.github();
    if (!github) {
      return refuse(403, "pr_unverifiable", `pr_number ${n} cannot be verified: no GitHub App is configured (github.app), and event ${claims.event_name} does not sign it`);
    }
    let pull;
    try {
      pull = await github.getPull({ owner: claims.repository_owner, repo: claims.repository.split("/")[1] ?? "" }, n);
    } catch (err) {
      return refuse(503, "github_unavailable", `could not verify PR #${n} with GitHub: ${err instanceof GitHubError ? err.message : String(err)}`);
    }
    if (!pull) return refuse(403, "pr_not_found", `PR #${n} does not exist in ${claims.repository}`);
    if (pull.baseRepoId !== claims.repository_id) {
      return refuse(403, "pr_other_repo", `PR #${n} belongs to repository id ${pull.baseRepoId}, not ${claims.repository} (${claims.repository_id})`);
    }
    // The head must be the commit the Action names, else the one the job runs on; events that run on the base branch
    // (their payload has no head sha, e.g. issue_comment) take the PR's current head.
    const expected = req.head_sha ?? (RUNS_ON_BASE.has(claims.event_name) ? pull.headSha : claims.sha);
    if (pull.headSha !== expected) {
      return refuse(403, "pr_head_mismatch", `PR #${n}'s head is ${pull.headSha}, not ${expected} (${req.head_sha ? "head_sha" : "the token's sha"})`);
    }
    return { ok: true, value: { number: n, headSha: pull.headSha } };
  }

  private async headOf(claims: ActionsClaims, number: number): Promise<string | null> {
    const github = this.deps.github();
    if (!github) return null;
    try {
      return (await github.getPull({ owner: claims.repository_owner, repo: claims.repository.split("/")[1] ?? "" }, number))?.headSha ?? null;
    } catch {
      return null; // the signed number stands; only the check run's commit is unknown
    }
  }

  /** POST /v1/ci/sessions/:id/finish, by the session's own node (or an admin). */
  async finish(id: string, who: Identity, isAdmin: boolean): Promise<Result<Session>> {
    const found = await this.owned(id, who, isAdmin);
    if (!found.ok) return found;
    // The job's requests are written before the session is marked finished: a sync pass that sees it finished
    // completes the check run at once, and must see the blocked call that makes its conclusion.
    await this.deps.flushLog?.();
    await this.deps.store.finish(id, "finished", this.now());
    this.lookups.delete(found.value.node_id);
    this.finishes++;
    if (found.value.token_hash) this.tokens.byHash.delete(found.value.token_hash);
    await this.deps.sync?.flush(id, this.deps.checkWaitMs ?? 5_000);
    return { ok: true, value: toWire((await this.deps.store.get(id))!) };
  }

  /** A session readable by `who`: its own node or an admin. */
  async owned(id: string, who: Identity, isAdmin: boolean): Promise<Result<SessionRecord>> {
    const s = await this.deps.store.get(id);
    if (!s) return refuse(404, "session_not_found", `no CI session ${id}`);
    if (!isAdmin && s.node_id !== who.nodeId) {
      return refuse(403, "session_not_yours", `session ${id} belongs to another node; only that node or an admin may use it`);
    }
    return { ok: true, value: s };
  }

  /** The session a caller's requests belong to (per request, from the cache warm() keeps). */
  lookup(who: Identity): SessionRef | null {
    if (who.nodeId === null) return null;
    return this.lookups.get(who.nodeId)?.ref ?? null;
  }

  /** Reads a node's session into the lookup cache unless it was read within the TTL (before each request). */
  async warm(who: Identity): Promise<void> {
    if (who.nodeId === null) return;
    const now = this.now();
    const hit = this.lookups.get(who.nodeId);
    if (hit && now - hit.at < LOOKUP_TTL_MS) return;
    const s = await this.deps.store.forNode(who.nodeId);
    if (this.lookups.size > 10_000) this.lookups.clear();
    this.lookups.set(who.nodeId, { ref: s ? sessionRef(s) : null, at: now });
  }

  /** Re-reads the sessions with live tokens (every replica, so a token issued by another one is honoured). */
  refreshTokens(): Promise<void> {
    this.refreshingTokens ??= (async () => {
      const now = this.now();
      const finishes = this.finishes;
      const rows = await this.deps.store.tokenSessions(now);
      if (finishes !== this.finishes) return;
      this.tokens = { byHash: new Map(rows.map((r) => [r.token_hash ?? "", r])), at: now };
    })().finally(() => (this.refreshingTokens = null));
    return this.refreshingTokens;
  }
}

const newSessionId = () => `ses_${randomUUID().replaceAll("-", "")}`;

export function sessionRef(s: SessionRecord): SessionRef {
  return { id: s.id, repository: s.repository, repositoryId: s.repository_id, prNumber: s.pr_number, workflow: s.workflow, runId: s.run_id };
}
