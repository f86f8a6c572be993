// The gateway's tables, declared once: Kysely checks every query against these types and row types are derived from
// them (Selectable/Insertable). The DDL that creates them is in migrations/, one file per version, for both engines.
// Booleans are 0/1 integers and JSON is text in both engines, so one row type fits SQLite and PostgreSQL alike.
import type { Generated, Insertable, Kysely, Selectable, Transaction } from "kysely";

export interface RequestsTable {
  id: string;
  ts: number;
  principal: string;
  login: string | null;
  node_id: string | null;
  node_name: string | null;
  /** JSON array of tailnet tags. */
  tags: string;
  session_id: string | null;
  client_session: string | null;
  user_agent: string | null;
  provider: string | null;
  model: string | null;
  route: string;
  method: string;
  path: string;
  status: number;
  duration_ms: number;
  ttfb_ms: number | null;
  streamed: number;
  input_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  output_tokens: number;
  reasoning_tokens: number;
  cost_nanos: number | null;
  tool_calls: number;
  denial: string | null;
  error: string | null;
  /** JSON array of flags. */
  flags: string;
}

export interface CapturesTable {
  request_id: string;
  ts: number;
  request_headers: string;
  /** gzip. */
  request_body: Buffer | null;
  request_truncated: number;
  response_headers: string;
  response_body: Buffer | null;
  response_truncated: number;
}

export interface ToolCallsTable {
  id: Generated<number>;
  request_id: string;
  parent_id: number | null;
  position: number;
  ts: number;
  principal: string;
  session_id: string | null;
  client_session: string | null;
  call_id: string;
  name: string;
  kind: string;
  mcp_server: string | null;
  mcp_tool: string | null;
  command: string | null;
  paths: string | null;
  arguments: string | null;
  findings: Generated<string>;
  action: string;
  result_request_id: string | null;
  result_ts: number | null;
  result_error: number | null;
  result_text: string | null;
}

/** What the outbox holds: a webhook message, a check-run write for a CI session, a quota settlement to apply. */
export type OutboxKind = "webhook" | "check_run" | "settlement";

/** One durable item of work (store/outbox.ts), unique per (kind, key): the row is the claim across replicas. */
export interface OutboxTable {
  id: Generated<number>;
  kind: OutboxKind;
  /** The webhook message id (the same on every retry), the CI session id, or the request id of a settlement. */
  key: string;
  /** Webhooks: the hook it goes to and its event type. */
  hook: string | null;
  event: string | null;
  /** The webhook body, or the settlement as JSON; empty for a check-run write (it renders the session when written). */
  payload: Generated<string>;
  created_at: number;
  due_at: number;
  attempts: Generated<number>;
  last_status: number | null;
  last_error: string | null;
  /** The replica working on it, until when (epoch ms); a lapsed claim is free again. */
  claimed_by: string | null;
  claimed_until: number | null;
  /** Given up on: kept as a dead letter, visible in the API, until retention. */
  dead_at: number | null;
}

export interface CiSessionsTable {
  id: string;
  node_id: string;
  repository: string;
  repository_id: string;
  owner: string;
  owner_id: string;
  pr_number: number | null;
  head_sha: string | null;
  sha: string;
  run_id: string;
  run_attempt: string;
  workflow: string;
  job: string | null;
  actor: string;
  event: string;
  ref: string;
  /** Epoch milliseconds. */
  started_at: number;
  finished_at: number | null;
  finish_reason: "finished" | "idle" | null;
  check_run_id: number | null;
  check_run_url: string | null;
  /** Activity marker and time of the last successful check-run write; completed once the final state is written. */
  check_marker: string | null;
  check_sent_at: number | null;
  check_completed: Generated<number>;
  /** sha256 of the session token (runners off the tailnet); never the token itself. */
  token_hash: string | null;
  token_expires_at: number | null;
}

export interface CiOidcJtiTable {
  jti: string;
  expires_at: number;
}

export interface QuotaBucketsTable {
  bucket: string;
  quota: string;
  balance_nanos: number;
  carry: Generated<number>;
  updated_ms: number;
}

export interface QuotaChargesTable {
  request_id: string;
  bucket: string;
  quota: string;
  ts: number;
  reserved_nanos: number;
  charged_nanos: number;
  at_reservation: Generated<number>;
}

export interface QuotaRefillsTable {
  id: Generated<number>;
  ts: number;
  principal: string;
  bucket: string;
  amount_nanos: number;
  balance_before: number;
  balance_after: number;
}

export interface ConfigAuditTable {
  id: Generated<number>;
  ts: number;
  principal: string | null;
  source: "api" | "sighup" | "watch";
  old_hash: string;
  new_hash: string;
  diff: string;
  /** The text applied; null before version 5 and when it held literal credentials. */
  text: string | null;
}

/** Singleton jobs (retention): the replica holding one, until when. */
export interface LeasesTable {
  name: string;
  holder: string;
  until: number;
}

export interface RequestAttemptsTable {
  request_id: string;
  n: number;
  provider: string;
  model: string;
  key_name: string | null;
  /** "answered", "failed" or "skipped". */
  outcome: string;
  status: number | null;
  reason: string | null;
  duration_ms: number;
}

export interface BudgetAlertsTable {
  id: Generated<number>;
  bucket: string;
  quota: string;
  threshold: number;
  ts: number;
  spent_nanos: number;
  capacity_nanos: number;
  request_id: string;
  session_id: string | null;
  principal: string;
}

/** Secrets found in traffic (issue 18): rule id and fingerprint, never the secret. */
export interface SecretFindingsTable {
  id: Generated<number>;
  request_id: string;
  ts: number;
  principal: string;
  session_id: string | null;
  rule_id: string;
  fingerprint: string;
  verified: number | null;
  place: string;
  call_id: string | null;
  action: string;
}

/** A request row waiting to be exported; `batch` once a run has claimed it for an object. */
export interface ExportQueueTable {
  request_id: string;
  ts: number;
  batch: string | null;
}

/** An export batch claimed and not yet known to be uploaded; its id names its objects. */
export interface ExportBatchesTable {
  id: string;
  created_at: number;
}

export interface Tables {
  requests: RequestsTable;
  captures: CapturesTable;
  tool_calls: ToolCallsTable;
  secret_findings: SecretFindingsTable;
  outbox: OutboxTable;
  ci_sessions: CiSessionsTable;
  ci_oidc_jti: CiOidcJtiTable;
  quota_buckets: QuotaBucketsTable;
  quota_charges: QuotaChargesTable;
  quota_refills: QuotaRefillsTable;
  config_audit: ConfigAuditTable;
  leases: LeasesTable;
  request_attempts: RequestAttemptsTable;
  budget_alerts: BudgetAlertsTable;
  export_queue: ExportQueueTable;
  export_batches: ExportBatchesTable;
}

export type { Engine } from "./migrations/engine.js";
export type Kdb = Kysely<Tables>;
/** A connection or a transaction: what a write that may join a caller's transaction takes. */
export type Executor = Kysely<Tables> | Transaction<Tables>;

/** Paging cursor: rows strictly older than this one in the list's (ts, id) order. */
export interface RowCursor {
  readonly ts: number;
  readonly id: string | number;
}

export type RequestRecord = Selectable<RequestsTable>;
export type NewRequest = Insertable<RequestsTable>;
export type CaptureRecord = Selectable<CapturesTable>;
export type ToolCallRecordRow = Selectable<ToolCallsTable>;
export type OutboxRecord = Selectable<OutboxTable>;
export type SessionRecord = Selectable<CiSessionsTable>;
export type BucketRecord = Selectable<QuotaBucketsTable>;
export type ConfigChange = Selectable<ConfigAuditTable>;
