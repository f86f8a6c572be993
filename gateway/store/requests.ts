// The request log: one row per request with identity, usage and cost; captures (headers and bodies) apart so
// retention can purge them while the accounting stays.
import { gunzipSync, gzipSync } from "node:zlib";
import { CompiledQuery, type Expression, type SqlBool, sql } from "kysely";
import { BatchWriter } from "./batch-writer.js";
import type { Store } from "./db.js";
import { type ApplyLogWrite, type LogWrite, applyStoreWrite } from "./log-writes.js";
import type { CapturesTable, Engine, Executor, Kdb, RequestRecord, RequestsTable, RowCursor } from "./schema.js";
import type { Insertable } from "kysely";

/** A request as the gateway uses it: the stored row with its JSON and 0/1 columns decoded. */
export type RequestRow = Readonly<
  Omit<RequestRecord, "tags" | "flags" | "streamed"> & { tags: readonly string[]; flags: readonly string[]; streamed: boolean }
>;

export interface Capture {
  readonly requestHeaders: Readonly<Record<string, string>>;
  readonly requestBody: Uint8Array | null;
  readonly requestTruncated: boolean;
  readonly responseHeaders: Readonly<Record<string, string>>;
  readonly responseBody: Uint8Array | null;
  readonly responseTruncated: boolean;
}

type PreparedCapture = Omit<Insertable<CapturesTable>, "request_id" | "ts">;

/** What another module stores with a request's row (tool calls, findings, the budget's settlement, hook events). */
export interface RowExtension {
  /** The rows, as data; read when the request is recorded, after every plugin's after-step. */
  rows?(): LogWrite | undefined;
  /**
   * Runs once the row's transaction has committed (work that must see the rows, such as delivering them); flush() waits
   * for the promise it returns.
   */
  committed?(): void | Promise<void>;
  /** Rewrites the request's capture before anything is stored (secrets masked out of captures). */
  capture?(capture: Capture): Capture;
}

/** A request's row with everything stored with it: plain data, as the log's writer receives it. */
export interface LogEntry {
  readonly row: RequestRow;
  readonly capture: Capture | null;
  readonly writes: readonly LogWrite[];
}

/**
 * Where recorded entries go: written in the order given, in transactions, off the request path; `committed` runs on
 * this thread once the entry's transaction has committed.
 */
export interface LogSink {
  add(entry: LogEntry, committed: (() => void) | null): void;
  /** Writes everything added so far. */
  flush(): Promise<void>;
  /** Writes everything added so far and stops. */
  close(): Promise<void>;
  /** Entries added and not yet committed. */
  readonly pending: number;
  /** False while the writer cannot take entries at all (its worker died and is being replaced). */
  readonly up: boolean;
}

/** HTTP status classes, and "denied" for requests keyless refused (policy, quota, guardrail). */
export type StatusClass = "2xx" | "3xx" | "4xx" | "5xx" | "denied";

export type { RowCursor } from "./schema.js";

export interface RequestFilter {
  readonly principal?: string;
  readonly model?: string;
  readonly provider?: string;
  readonly session?: string;
  /** Only these requests (search: the requests of matching tool calls). */
  readonly ids?: readonly string[];
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

/** An upsert's SET: every column of the inserted row but its key, from the row being inserted. */
function keysBut<T extends object, K extends keyof T & string>(row: T, key: K): Exclude<keyof T & string, K>[] {
  return Object.keys(row).filter((k): k is Exclude<keyof T & string, K> => k !== key);
}

function replaceAll<K extends string>(keys: readonly K[]) {
  return <E extends { ref(r: `excluded.${K}`): unknown }>(eb: E) => Object.fromEntries(keys.map((k) => [k, eb.ref(`excluded.${k}`)]));
}

export function requestFromDb(row: RequestRecord): RequestRow {
  return { ...row, tags: JSON.parse(row.tags) as string[], flags: JSON.parse(row.flags) as string[], streamed: row.streamed === 1 };
}

type Where = Expression<SqlBool>;

/** Entries waiting beyond which the gateway refuses new requests rather than serve them unlogged. */
export const DEFAULT_MAX_PENDING = 20_000;

export interface RequestLogOptions {
  readonly intervalMs?: number;
  readonly onError?: (err: unknown) => void;
  /** The writer; by default a batched writer on this thread over `store`. */
  readonly sink?: LogSink;
  /** Writes the kinds of LogWrite the default writer meets (the store's own kinds by default). */
  readonly apply?: ApplyLogWrite;
  readonly maxPending?: number;
  /** Each row also enters the export queue (config `export`), in its own transaction. */
  readonly queueForExport?: boolean;
}

export class RequestLog {
  private readonly sink: LogSink;
  private readonly db;
  private readonly maxPending: number;
  /** Work started by written rows (settlements against a shared bucket store) that flush() waits for. */
  private readonly followUps = new Set<Promise<void>>();

  constructor(
    private readonly store: Store,
    options: RequestLogOptions = {},
  ) {
    this.db = store.db;
    this.maxPending = options.maxPending ?? DEFAULT_MAX_PENDING;
    this.sink = options.sink ?? new BatchSink(store, options.apply ?? applyStoreWrite, options);
  }

  /** Queues a request for writing with what the extensions store with it; the writer compresses and writes it. */
  record(row: RequestRow, capture: Capture | null, extensions: readonly RowExtension[] = []): void {
    const masked = capture && extensions.reduce((c, ext) => ext.capture?.(c) ?? c, capture);
    const writes = extensions.flatMap((ext) => ext.rows?.() ?? []);
    const after = extensions.flatMap((ext) => (ext.committed ? [ext.committed] : []));
    this.sink.add({ row, capture: masked, writes }, after.length > 0 ? () => this.committed(after) : null);
  }

  private committed(callbacks: readonly (() => void | Promise<void>)[]): void {
    for (const callback of callbacks) {
      let after: void | Promise<void>;
      try {
        after = callback();
      } catch {
        continue; // an extension reports its own failures
      }
      if (!after) continue;
      // Their failures are theirs to report (and retry); here they only end the wait.
      const settled: Promise<void> = after.catch(() => undefined).finally(() => this.followUps.delete(settled));
      this.followUps.add(settled);
    }
  }

  /** Writes everything queued, and waits for the work the written rows started. */
  async flush(): Promise<void> {
    await this.sink.flush();
    await Promise.allSettled([...this.followUps]);
  }

  /** Writes everything queued and stops the writer (shutdown). */
  async close(): Promise<void> {
    await this.sink.close();
    await Promise.allSettled([...this.followUps]);
  }

  /** Rows queued and not yet written. */
  get pending(): number {
    return this.sink.pending;
  }

  /** Whether the writer is running (false while a dead worker is replaced). */
  get writerUp(): boolean {
    return this.sink.up;
  }

  /** Whether a new request may be served: its row would be written (the writer runs and its queue has room). */
  get accepting(): boolean {
    return this.sink.up && this.sink.pending < this.maxPending;
  }

  async list(filter: RequestFilter): Promise<RequestRow[]> {
    const rows = await this.db
      .selectFrom("requests")
      .selectAll()
      .where(({ eb, and }) => {
        const where: Where[] = [];
        if (filter.principal) where.push(eb("principal", "=", filter.principal));
        if (filter.model) where.push(eb("model", "=", filter.model));
        if (filter.provider) where.push(eb("provider", "=", filter.provider));
        if (filter.session) where.push(eb("session_id", "=", filter.session));
        if (filter.ids) where.push(filter.ids.length > 0 ? eb("id", "in", [...filter.ids]) : sql<SqlBool>`1 = 0`);
        if (filter.since !== undefined) where.push(eb("ts", ">=", filter.since));
        if (filter.until !== undefined) where.push(eb("ts", "<", filter.until));
        if (filter.status === "denied") where.push(eb("denial", "is not", null));
        else if (filter.status) where.push(eb(sql<number>`status / 100`, "=", Number(filter.status[0])));
        if (filter.before) {
          const { ts, id } = filter.before;
          where.push(eb.or([eb("ts", "<", ts), eb.and([eb("ts", "=", ts), eb("id", "<", String(id))])]));
        }
        return and(where);
      })
      .orderBy("ts", "desc")
      .orderBy("id", "desc")
      .limit(Math.min(Math.max(filter.limit ?? 100, 1), 1000))
      .execute();
    return rows.map(requestFromDb);
  }

  async get(id: string): Promise<{ row: RequestRow; capture: Capture | null } | null> {
    const row = await this.db.selectFrom("requests").selectAll().where("id", "=", id).executeTakeFirst();
    if (!row) return null;
    const cap = await this.db.selectFrom("captures").selectAll().where("request_id", "=", id).executeTakeFirst();
    return {
      row: requestFromDb(row),
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

  async usage(filter: Pick<RequestFilter, "principal" | "since" | "until">): Promise<UsageGroup[]> {
    const day =
      this.store.engine === "postgres"
        ? sql<string>`to_char(to_timestamp(ts / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD')`
        : sql<string>`date(ts / 1000, 'unixepoch')`;
    return this.db
      .selectFrom("requests")
      .select((eb) => [
        day.as("day"),
        "principal",
        "provider",
        "model",
        eb.fn.countAll<number>().as("requests"),
        eb.fn.sum<number>("input_tokens").as("input_tokens"),
        eb.fn.sum<number>("cache_read_tokens").as("cache_read_tokens"),
        eb.fn.sum<number>("cache_write_tokens").as("cache_write_tokens"),
        eb.fn.sum<number>("output_tokens").as("output_tokens"),
        eb.fn.sum<number>("reasoning_tokens").as("reasoning_tokens"),
        eb.fn.coalesce(eb.fn.sum<number>("cost_nanos"), sql<number>`0`).as("cost_nanos"),
        sql<number>`SUM(CASE WHEN cost_nanos IS NULL AND status < 400 THEN 1 ELSE 0 END)`.as("unpriced_requests"),
      ])
      .where(({ eb, and }) => {
        const where: Where[] = [];
        if (filter.principal) where.push(eb("principal", "=", filter.principal));
        if (filter.since !== undefined) where.push(eb("ts", ">=", filter.since));
        if (filter.until !== undefined) where.push(eb("ts", "<", filter.until));
        return and(where);
      })
      .groupBy([day, "principal", "provider", "model"])
      .orderBy(sql`1`, "desc")
      .orderBy(sql`11`, "desc")
      .execute();
  }

  /** Requests, errors and denials, counted as the session report counts them. */
  async counts(filter: Pick<RequestFilter, "principal" | "since">): Promise<RequestCounts> {
    const row = await this.db
      .selectFrom("requests")
      .select((eb) => [
        eb.fn.countAll<number>().as("requests"),
        sql<number>`COALESCE(SUM(CASE WHEN denial IS NULL AND (status >= 400 OR error IS NOT NULL) THEN 1 ELSE 0 END), 0)`.as("errors"),
        sql<number>`COALESCE(SUM(CASE WHEN denial IS NOT NULL THEN 1 ELSE 0 END), 0)`.as("denials"),
      ])
      .where(({ eb, and }) => {
        const where: Where[] = [];
        if (filter.principal) where.push(eb("principal", "=", filter.principal));
        if (filter.since !== undefined) where.push(eb("ts", ">=", filter.since));
        return and(where);
      })
      .executeTakeFirstOrThrow();
    return row;
  }

  /**
   * Deletes captures older than `before` (epoch ms); accounting rows stay. `exportedOnly` (retention's require_export)
   * keeps the captures of requests still waiting in the export queue. Returns how many were purged.
   */
  async purgeCaptures(before: number, exportedOnly = false): Promise<number> {
    const result = await this.db
      .deleteFrom("captures")
      .where("ts", "<", before)
      .$if(exportedOnly, (q) => q.where(({ not, exists, selectFrom }) => not(exists(selectFrom("export_queue").select("request_id").whereRef("export_queue.request_id", "=", "captures.request_id")))))
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

/** `INSERT … ON CONFLICT (key) DO UPDATE` of every column, for one row (SQLite keeps it prepared). */
function upsertOne<T extends object>(table: string, key: keyof T & string, columns: Record<keyof T, true>): { readonly sql: string; readonly columns: readonly (keyof T & string)[] } {
  const names = Object.keys(columns) as (keyof T & string)[];
  const set = names.filter((c) => c !== key).map((c) => `${c} = excluded.${c}`);
  return { sql: `INSERT INTO ${table} (${names.join(", ")}) VALUES (${names.map(() => "?").join(", ")}) ON CONFLICT (${key}) DO UPDATE SET ${set.join(", ")}`, columns: names };
}

// Every column once (the compiler checks the lists against the tables).
const REQUEST_UPSERT = upsertOne<RequestsTable>("requests", "id", {
  id: true, ts: true, principal: true, login: true, node_id: true, node_name: true, tags: true, session_id: true, client_session: true,
  user_agent: true, provider: true, model: true, route: true, method: true, path: true, status: true, duration_ms: true, ttfb_ms: true,
  streamed: true, input_tokens: true, cache_read_tokens: true, cache_write_tokens: true, output_tokens: true, reasoning_tokens: true,
  cost_nanos: true, tool_calls: true, denial: true, error: true, flags: true,
});
const CAPTURE_UPSERT = upsertOne<CapturesTable>("captures", "request_id", {
  request_id: true, ts: true, request_headers: true, request_body: true, request_truncated: true, response_headers: true, response_body: true, response_truncated: true,
});

/** Rows the export (config `export`) will send, queued in the rows' own transaction. */
async function queueRows(trx: Executor, rows: readonly LogEntry[]): Promise<void> {
  await trx
    .insertInto("export_queue")
    .values(rows.map(({ row }) => ({ request_id: row.id, ts: row.ts })))
    .onConflict((oc) => oc.column("request_id").doNothing())
    .execute();
}

/**
 * PostgreSQL's text refuses NUL, which a caller can put in a path, a model name or a tool call: replaced, so that one
 * such row cannot hold up every row behind it (the log retries a refused slice until it is written).
 */
function withoutNul<T>(value: T): T {
  if (typeof value === "string") return (value.includes("\0") ? value.replaceAll("\0", "\uFFFD") : value) as T;
  if (value === null || typeof value !== "object" || ArrayBuffer.isView(value)) return value;
  if (Array.isArray(value)) return value.map(withoutNul) as T;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutNul(v)])) as T;
}

/**
 * One slice of entries in one transaction: the request rows and captures, then what the extensions store. On
 * PostgreSQL rows and captures go as one INSERT each (a round trip each); on SQLite, where a statement is a function
 * call, row by row through statements written out once (building them cost more than running them).
 */
export async function writeEntries(db: Kdb, engine: Engine, given: readonly LogEntry[], apply: ApplyLogWrite, queueForExport: boolean): Promise<void> {
  const entries = engine === "postgres" ? given.map(withoutNul) : given;
  // A request id is written once; a repeat in one slice (never expected) keeps the last, as an upsert would.
  const rows = [...new Map(entries.map((e) => [e.row.id, e])).values()];
  const requests = rows.map(({ row }) => ({ ...row, tags: JSON.stringify(row.tags), flags: JSON.stringify(row.flags), streamed: row.streamed ? 1 : 0 }));
  const captures = rows.flatMap(({ row, capture }) => (capture ? [{ request_id: row.id, ts: row.ts, ...prepareCapture(capture) }] : []));
  if (engine === "sqlite") {
    await db.transaction().execute(async (trx) => {
      for (const r of requests) await trx.executeQuery(CompiledQuery.raw(REQUEST_UPSERT.sql, REQUEST_UPSERT.columns.map((c) => r[c])));
      for (const c of captures) await trx.executeQuery(CompiledQuery.raw(CAPTURE_UPSERT.sql, CAPTURE_UPSERT.columns.map((k) => c[k])));
      if (queueForExport) await queueRows(trx, rows);
      for (const { row, writes } of entries) for (const w of writes) await apply(trx, row.id, w);
    });
    return;
  }
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto("requests")
      .values(requests)
      .onConflict((oc) => oc.column("id").doUpdateSet(replaceAll(keysBut(requests[0]!, "id"))))
      .execute();
    if (captures.length > 0) {
      await trx
        .insertInto("captures")
        .values(captures)
        .onConflict((oc) => oc.column("request_id").doUpdateSet(replaceAll(keysBut(captures[0]!, "request_id"))))
        .execute();
    }
    if (queueForExport) await queueRows(trx, rows);
    for (const { row, writes } of entries) for (const w of writes) await apply(trx, row.id, w);
  });
}

interface Queued {
  readonly entry: LogEntry;
  readonly committed: (() => void) | null;
}

/** The writer on this thread: batched transactions between requests (PostgreSQL, an in-memory SQLite, tests). */
export class BatchSink implements LogSink {
  private readonly writer: BatchWriter<Queued>;
  readonly up = true;

  constructor(store: Store, apply: ApplyLogWrite, options: Pick<RequestLogOptions, "intervalMs" | "onError" | "queueForExport">) {
    this.writer = new BatchWriter<Queued>({
      write: async (queued) => {
        await writeEntries(store.db, store.engine, queued.map((q) => q.entry), apply, options.queueForExport ?? false);
        for (const q of queued) q.committed?.();
      },
      intervalMs: options.intervalMs ?? 200,
      // Nothing is dropped: the log refuses new requests instead (RequestLog.accepting).
      maxPending: Number.POSITIVE_INFINITY,
      onError: (err) => options.onError?.(err),
    });
  }

  add(entry: LogEntry, committed: (() => void) | null): void {
    this.writer.add({ entry, committed });
  }

  flush(): Promise<void> {
    return this.writer.flush();
  }

  close(): Promise<void> {
    return this.writer.flush();
  }

  get pending(): number {
    return this.writer.pending;
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
