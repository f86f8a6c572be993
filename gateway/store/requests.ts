// The request log: one row per request with identity, usage and cost; captures (headers and bodies) apart so
// retention can purge them while the accounting stays.
import { gunzipSync, gzipSync } from "node:zlib";
import type { Db } from "./db.js";
import { BatchWriter } from "./batch-writer.js";

export const REQUESTS_SCHEMA = `
CREATE TABLE IF NOT EXISTS requests (
  id TEXT PRIMARY KEY,
  ts INTEGER NOT NULL,
  principal TEXT NOT NULL,
  login TEXT,
  node_id TEXT,
  node_name TEXT,
  tags TEXT NOT NULL DEFAULT '[]',
  session_id TEXT,
  client_session TEXT,
  user_agent TEXT,
  provider TEXT,
  model TEXT,
  route TEXT NOT NULL,
  method TEXT NOT NULL,
  path TEXT NOT NULL,
  status INTEGER NOT NULL,
  duration_ms REAL NOT NULL,
  ttfb_ms REAL,
  streamed INTEGER NOT NULL DEFAULT 0,
  input_tokens INTEGER NOT NULL DEFAULT 0,
  cache_read_tokens INTEGER NOT NULL DEFAULT 0,
  cache_write_tokens INTEGER NOT NULL DEFAULT 0,
  output_tokens INTEGER NOT NULL DEFAULT 0,
  reasoning_tokens INTEGER NOT NULL DEFAULT 0,
  cost_nanos INTEGER,
  tool_calls INTEGER NOT NULL DEFAULT 0,
  denial TEXT,
  error TEXT,
  flags TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS requests_ts ON requests (ts);
CREATE INDEX IF NOT EXISTS requests_principal_ts ON requests (principal, ts);
CREATE INDEX IF NOT EXISTS requests_session ON requests (session_id) WHERE session_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS captures (
  request_id TEXT PRIMARY KEY REFERENCES requests (id) ON DELETE CASCADE,
  ts INTEGER NOT NULL,
  request_headers TEXT NOT NULL,
  request_body BLOB,
  request_truncated INTEGER NOT NULL DEFAULT 0,
  response_headers TEXT NOT NULL,
  response_body BLOB,
  response_truncated INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS captures_ts ON captures (ts);
`;

export interface RequestRow {
  readonly id: string;
  readonly ts: number;
  readonly principal: string;
  readonly login: string | null;
  readonly node_id: string | null;
  readonly node_name: string | null;
  readonly tags: readonly string[];
  readonly session_id: string | null;
  readonly client_session: string | null;
  readonly user_agent: string | null;
  readonly provider: string | null;
  readonly model: string | null;
  readonly route: string;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly duration_ms: number;
  readonly ttfb_ms: number | null;
  readonly streamed: boolean;
  readonly input_tokens: number;
  readonly cache_read_tokens: number;
  readonly cache_write_tokens: number;
  readonly output_tokens: number;
  readonly reasoning_tokens: number;
  readonly cost_nanos: number | null;
  readonly tool_calls: number;
  readonly denial: string | null;
  readonly error: string | null;
  readonly flags: readonly string[];
}

export interface Capture {
  readonly requestHeaders: Readonly<Record<string, string>>;
  readonly requestBody: Uint8Array | null;
  readonly requestTruncated: boolean;
  readonly responseHeaders: Readonly<Record<string, string>>;
  readonly responseBody: Uint8Array | null;
  readonly responseTruncated: boolean;
}

interface PreparedCapture {
  readonly request_headers: string;
  readonly request_body: Buffer | null;
  readonly request_truncated: number;
  readonly response_headers: string;
  readonly response_body: Buffer | null;
  readonly response_truncated: number;
}

/** Extra rows other modules write in the same transaction as the request (tool calls, quota ledger…). */
export interface RowExtension {
  write(db: Db, requestId: string): void;
  /** Rewrites the request's capture before anything is stored (issue 18: secrets masked out of captures). */
  capture?(capture: Capture): Capture;
}

interface PendingEntry {
  readonly row: RequestRow;
  readonly capture: Capture | null;
  readonly extensions: readonly RowExtension[];
}

/** HTTP status classes, and "denied" for requests keyless refused (policy, quota, guardrail). */
export type StatusClass = "2xx" | "3xx" | "4xx" | "5xx" | "denied";

/** Paging cursor: rows strictly older than this one in the list's (ts, id) order. */
export interface RowCursor {
  readonly ts: number;
  readonly id: string | number;
}

export interface RequestFilter {
  readonly principal?: string;
  readonly model?: string;
  readonly provider?: string;
  readonly session?: string;
  readonly since?: number;
  readonly until?: number;
  readonly status?: StatusClass;
  readonly before?: RowCursor;
  readonly limit?: number;
}

export interface RequestCounts {
  readonly requests: number;
  readonly errors: number;
  readonly denials: number;
}

export interface UsageGroup {
  readonly day: string;
  readonly principal: string;
  readonly provider: string | null;
  readonly model: string | null;
  readonly requests: number;
  readonly input_tokens: number;
  readonly cache_read_tokens: number;
  readonly cache_write_tokens: number;
  readonly output_tokens: number;
  readonly reasoning_tokens: number;
  readonly cost_nanos: number;
  readonly unpriced_requests: number;
}

type DbRequestRow = Omit<RequestRow, "tags" | "flags" | "streamed"> & { tags: string; flags: string; streamed: number };

function fromDb(row: DbRequestRow): RequestRow {
  return { ...row, tags: JSON.parse(row.tags) as string[], flags: JSON.parse(row.flags) as string[], streamed: row.streamed === 1 };
}

export class RequestLog {
  private readonly writer: BatchWriter<PendingEntry>;
  private readonly insertRow;
  private readonly insertCapture;

  constructor(
    private readonly db: Db,
    options: { intervalMs?: number; onError?: (err: unknown) => void } = {},
  ) {
    this.insertRow = db.prepare(`INSERT OR REPLACE INTO requests (id, ts, principal, login, node_id, node_name, tags,
      session_id, client_session, user_agent, provider, model, route, method, path, status, duration_ms, ttfb_ms, streamed,
      input_tokens, cache_read_tokens, cache_write_tokens, output_tokens, reasoning_tokens, cost_nanos, tool_calls,
      denial, error, flags) VALUES (@id, @ts, @principal, @login, @node_id, @node_name, @tags, @session_id, @client_session,
      @user_agent, @provider, @model, @route, @method, @path, @status, @duration_ms, @ttfb_ms, @streamed, @input_tokens,
      @cache_read_tokens, @cache_write_tokens, @output_tokens, @reasoning_tokens, @cost_nanos, @tool_calls, @denial,
      @error, @flags)`);
    this.insertCapture = db.prepare(`INSERT OR REPLACE INTO captures (request_id, ts, request_headers, request_body,
      request_truncated, response_headers, response_body, response_truncated) VALUES (@request_id, @ts, @request_headers,
      @request_body, @request_truncated, @response_headers, @response_body, @response_truncated)`);
    const writeAll = db.transaction((entries: readonly PendingEntry[]) => {
      for (const { row, capture, extensions } of entries) {
        this.insertRow.run({
          ...row,
          tags: JSON.stringify(row.tags),
          flags: JSON.stringify(row.flags),
          streamed: row.streamed ? 1 : 0,
        });
        if (capture) this.insertCapture.run({ request_id: row.id, ts: row.ts, ...prepareCapture(capture) });
        for (const ext of extensions) ext.write(db, row.id);
      }
    });
    this.writer = new BatchWriter({
      write: writeAll,
      intervalMs: options.intervalMs ?? 200,
      onError: (err) => options.onError?.(err),
    });
  }

  /** Queues a request for writing; the next tick compresses and writes it in one transaction with its extensions. */
  record(row: RequestRow, capture: Capture | null, extensions: readonly RowExtension[] = []): void {
    const masked = capture && extensions.reduce((c, ext) => ext.capture?.(c) ?? c, capture);
    this.writer.add({ row, capture: masked, extensions });
  }

  /** Writes everything queued. */
  async flush(): Promise<void> {
    this.writer.flush();
  }

  list(filter: RequestFilter): RequestRow[] {
    const where: string[] = [];
    const params: Record<string, string | number> = {};
    if (filter.principal) (where.push("principal = @principal"), (params.principal = filter.principal));
    if (filter.model) (where.push("model = @model"), (params.model = filter.model));
    if (filter.provider) (where.push("provider = @provider"), (params.provider = filter.provider));
    if (filter.session) (where.push("session_id = @session"), (params.session = filter.session));
    if (filter.since !== undefined) (where.push("ts >= @since"), (params.since = filter.since));
    if (filter.until !== undefined) (where.push("ts < @until"), (params.until = filter.until));
    if (filter.status === "denied") where.push("denial IS NOT NULL");
    else if (filter.status) (where.push("status / 100 = @status_class"), (params.status_class = Number(filter.status[0])));
    if (filter.before) {
      where.push("(ts < @before_ts OR (ts = @before_ts AND id < @before_id))");
      params.before_ts = filter.before.ts;
      params.before_id = String(filter.before.id);
    }
    params.limit = Math.min(Math.max(filter.limit ?? 100, 1), 1000);
    const sql = `SELECT * FROM requests ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY ts DESC, id DESC LIMIT @limit`;
    return (this.db.prepare(sql).all(params) as DbRequestRow[]).map(fromDb);
  }

  get(id: string): { row: RequestRow; capture: Capture | null } | null {
    const row = this.db.prepare("SELECT * FROM requests WHERE id = ?").get(id) as DbRequestRow | undefined;
    if (!row) return null;
    const cap = this.db.prepare("SELECT * FROM captures WHERE request_id = ?").get(id) as
      | (PreparedCapture & { request_id: string })
      | undefined;
    return {
      row: fromDb(row),
      capture: cap
        ? {
            requestHeaders: JSON.parse(cap.request_headers) as Record<string, string>,
            requestBody: cap.request_body ? gunzipSync(cap.request_body) : null,
            requestTruncated: cap.request_truncated === 1,
            responseHeaders: JSON.parse(cap.response_headers) as Record<string, string>,
            responseBody: cap.response_body ? gunzipSync(cap.response_body) : null,
            responseTruncated: cap.response_truncated === 1,
          }
        : null,
    };
  }

  usage(filter: Pick<RequestFilter, "principal" | "since" | "until">): UsageGroup[] {
    const where: string[] = [];
    const params: Record<string, string | number> = {};
    if (filter.principal) (where.push("principal = @principal"), (params.principal = filter.principal));
    if (filter.since !== undefined) (where.push("ts >= @since"), (params.since = filter.since));
    if (filter.until !== undefined) (where.push("ts < @until"), (params.until = filter.until));
    const sql = `SELECT date(ts / 1000, 'unixepoch') AS day, principal, provider, model, COUNT(*) AS requests,
      SUM(input_tokens) AS input_tokens, SUM(cache_read_tokens) AS cache_read_tokens,
      SUM(cache_write_tokens) AS cache_write_tokens, SUM(output_tokens) AS output_tokens,
      SUM(reasoning_tokens) AS reasoning_tokens, COALESCE(SUM(cost_nanos), 0) AS cost_nanos,
      SUM(CASE WHEN cost_nanos IS NULL AND status < 400 THEN 1 ELSE 0 END) AS unpriced_requests
      FROM requests ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
      GROUP BY day, principal, provider, model ORDER BY day DESC, cost_nanos DESC`;
    return this.db.prepare(sql).all(params) as UsageGroup[];
  }

  /** Requests, errors and denials, counted as the session report counts them. */
  counts(filter: Pick<RequestFilter, "principal" | "since">): RequestCounts {
    const where: string[] = [];
    const params: Record<string, string | number> = {};
    if (filter.principal) (where.push("principal = @principal"), (params.principal = filter.principal));
    if (filter.since !== undefined) (where.push("ts >= @since"), (params.since = filter.since));
    return this.db
      .prepare(`SELECT COUNT(*) AS requests,
        COALESCE(SUM(CASE WHEN denial IS NULL AND (status >= 400 OR error IS NOT NULL) THEN 1 ELSE 0 END), 0) AS errors,
        COALESCE(SUM(CASE WHEN denial IS NOT NULL THEN 1 ELSE 0 END), 0) AS denials
        FROM requests ${where.length ? `WHERE ${where.join(" AND ")}` : ""}`)
      .get(params) as RequestCounts;
  }

  /** Deletes captures older than `before` (epoch ms); accounting rows stay. Returns how many were purged. */
  purgeCaptures(before: number): number {
    return this.db.prepare("DELETE FROM captures WHERE ts < ?").run(before).changes;
  }
}

// Synchronous gzip of a small body costs tens of microseconds, far less than zlib's async machinery per call;
// it runs in the batch tick, never while a response is being served.
function compress(body: Uint8Array | null): Buffer | null {
  return body && body.byteLength > 0 ? gzipSync(body) : null;
}

function prepareCapture(capture: Capture): PreparedCapture {
  return {
    request_headers: JSON.stringify(capture.requestHeaders),
    request_body: compress(capture.requestBody),
    request_truncated: capture.requestTruncated ? 1 : 0,
    response_headers: JSON.stringify(capture.responseHeaders),
    response_body: compress(capture.responseBody),
    response_truncated: capture.responseTruncated ? 1 : 0,
  };
}
