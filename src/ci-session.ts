// Wire contract of the CI session API, shared by the Action (client) and the gateway (server).
import { z } from "zod";

/** The OIDC audience the Action requests and the gateway expects unless configured otherwise. */
export const DEFAULT_OIDC_AUDIENCE = "keyless";

export const CreateSessionRequest = z.object({
  oidc_token: z.string().min(1),
  /** Required for events other than pull_request (whose signed `ref` carries it); verified with the GitHub API. */
  pr_number: z.number().int().positive().optional(),
  /** The PR's head commit (github.event.pull_request.head.sha); the check run goes there, not on the merge commit. */
  head_sha: z.string().regex(/^[0-9a-f]{40}$/, "expected a 40-character hex commit sha").optional(),
  /** GITHUB_JOB, for display only (not signed). */
  job: z.string().max(100).optional(),
  /** Ask for a session token (runners that cannot join the tailnet; only where the repository mapping allows it). */
  session_token: z.boolean().optional(),
});
export type CreateSessionRequest = z.infer<typeof CreateSessionRequest>;

export const Session = z.object({
  id: z.string(),
  /** Tailnet StableID of the caller's node; "token:<session id>" for a session-token session. */
  node_id: z.string(),
  repository: z.string(),
  repository_id: z.string(),
  owner: z.string(),
  owner_id: z.string(),
  pr_number: z.number().int().nullable(),
  /** Where the check run goes: the PR head for PRs, else the claim `sha`. */
  head_sha: z.string().nullable(),
  /** The token's `sha` claim (for pull_request: the merge commit). */
  sha: z.string(),
  run_id: z.string(),
  run_attempt: z.string(),
  workflow: z.string(),
  job: z.string().nullable(),
  actor: z.string(),
  event: z.string(),
  ref: z.string(),
  started_at: z.string(),
  finished_at: z.string().nullable(),
  /** "finished" (the Action called finish) or "idle" (the gateway closed it after the idle timeout). */
  finish_reason: z.enum(["finished", "idle"]).nullable(),
  check_run_id: z.number().int().nullable(),
  check_run_url: z.string().nullable(),
});
export type Session = z.infer<typeof Session>;

export const CreateSessionResponse = z.object({
  session: Session,
  /** True when an open session of the same job on the same node was returned instead of a new one. */
  resumed: z.boolean(),
  /** Only when requested and allowed: present it as the API key; valid until the session finishes. */
  session_token: z.string().optional(),
  session_token_expires_at: z.string().optional(),
});
export type CreateSessionResponse = z.infer<typeof CreateSessionResponse>;

export const ModelTotals = z.object({
  provider: z.string(),
  model: z.string(),
  requests: z.number().int(),
  input_tokens: z.number().int(),
  cache_read_tokens: z.number().int(),
  cache_write_tokens: z.number().int(),
  output_tokens: z.number().int(),
  /** Integer nanodollars; null when some request's price was unknown and nothing was priced. */
  cost_nanos: z.number().int().nullable(),
});
export type ModelTotals = z.infer<typeof ModelTotals>;

export const Totals = z.object({
  requests: z.number().int(),
  errors: z.number().int(),
  denials: z.number().int(),
  input_tokens: z.number().int(),
  cache_read_tokens: z.number().int(),
  cache_write_tokens: z.number().int(),
  output_tokens: z.number().int(),
  cost_nanos: z.number().int(),
  unpriced_requests: z.number().int(),
  tool_calls: z.number().int(),
});
export type Totals = z.infer<typeof Totals>;

/** Refused or failed requests grouped by reason. kind: "policy" | "quota" | "guardrail" denials, "error" otherwise. */
export const ReasonCount = z.object({
  kind: z.enum(["policy", "quota", "guardrail", "error"]),
  reason: z.string(),
  count: z.number().int(),
});

export const Command = z.object({ at: z.string(), command: z.string(), blocked: z.boolean() });

export const McpUse = z.object({ server: z.string(), tool: z.string(), count: z.number().int() });

export const Finding = z.object({
  at: z.string(),
  severity: z.enum(["low", "medium", "high", "critical"]),
  rule: z.string(),
  action: z.string(),
  command: z.string(),
});

export const BudgetUse = z.object({
  bucket: z.string(),
  spent_nanos: z.number().int(),
  /** Null when no quota defines the bucket any more (its balance is unknown). */
  remaining_nanos: z.number().int().nullable(),
});

/** A quota alert threshold one of the session's requests crossed (fired once per threshold per refill period). */
export const BudgetAlert = z.object({
  bucket: z.string(),
  threshold_percent: z.number().int(),
  spent_nanos: z.number().int(),
  capacity_nanos: z.number().int(),
  at: z.string(),
});
export type BudgetAlert = z.infer<typeof BudgetAlert>;

export const PrTotals = z.object({
  sessions: z.number().int(),
  requests: z.number().int(),
  input_tokens: z.number().int(),
  output_tokens: z.number().int(),
  cost_nanos: z.number().int(),
});
export type PrTotals = z.infer<typeof PrTotals>;

export const SessionSummary = z.object({
  session: Session,
  totals: Totals,
  by_model: z.array(ModelTotals),
  problems: z.array(ReasonCount),
  tool_calls_by_kind: z.array(z.object({ kind: z.string(), count: z.number().int() })),
  /** Newest first; at most the last 200. */
  commands: z.array(Command),
  commands_omitted: z.number().int(),
  mcp: z.array(McpUse),
  findings: z.array(Finding),
  budgets: z.array(BudgetUse),
  budget_alerts: z.array(BudgetAlert).default([]),
  /** The PR's totals over all its sessions (this one included); null outside a PR. */
  pr: PrTotals.nullable(),
  /** Markdown rendering, the same body the check run shows (used for the job summary). */
  markdown: z.string(),
});
export type SessionSummary = z.infer<typeof SessionSummary>;
/** A session summary before its markdown is rendered. */
export type ReportData = Omit<SessionSummary, "markdown">;

/** `GET /api/prs/:owner/:repo/:number`: every session of one PR, summed. */
export const PrSummary = z.object({
  repository: z.string(),
  pr_number: z.number().int(),
  totals: PrTotals,
  sessions: z.array(Session),
});
export type PrSummary = z.infer<typeof PrSummary>;

/** Error body of every keyless-native endpoint (not the provider routes, which answer in the provider's shape). */
export const ApiError = z.object({ error: z.object({ code: z.string(), message: z.string() }) });
export type ApiError = z.infer<typeof ApiError>;
