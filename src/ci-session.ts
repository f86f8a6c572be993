// Wire contract of the CI session API, shared by the Action (client) and the gateway (server).
import { z } from "zod";

export const CreateSessionRequest = z.object({
  oidc_token: z.string().min(1),
  pr_number: z.number().int().positive().optional(),
  head_sha: z.string().regex(/^[0-9a-f]{40}$/, "expected a 40-character hex commit sha").optional(),
});
export type CreateSessionRequest = z.infer<typeof CreateSessionRequest>;

export const Session = z.object({
  id: z.string(),
  node_id: z.string(),
  repository: z.string(),
  repository_id: z.string(),
  owner: z.string(),
  pr_number: z.number().int().nullable(),
  head_sha: z.string().nullable(),
  run_id: z.string(),
  run_attempt: z.string(),
  workflow: z.string(),
  job: z.string().nullable(),
  actor: z.string(),
  event: z.string(),
  ref: z.string(),
  started_at: z.string(),
  finished_at: z.string().nullable(),
  check_run_id: z.number().int().nullable(),
});
export type Session = z.infer<typeof Session>;

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

export const SessionSummary = z.object({
  session: Session,
  totals: z.object({
    requests: z.number().int(),
    errors: z.number().int(),
    denials: z.number().int(),
    input_tokens: z.number().int(),
    output_tokens: z.number().int(),
    cost_nanos: z.number().int(),
    unpriced_requests: z.number().int(),
  }),
  by_model: z.array(ModelTotals),
  /** Markdown rendering, the same body the check run shows (used for the job summary). */
  markdown: z.string(),
});
export type SessionSummary = z.infer<typeof SessionSummary>;

/** Error body of every keyless-native endpoint (not the provider routes, which answer in the provider's shape). */
export const ApiError = z.object({ error: z.object({ code: z.string(), message: z.string() }) });
export type ApiError = z.infer<typeof ApiError>;
