// The request log: one row per request with identity, usage and cost; captures (headers and bodies) apart so
// retention can purge them while the accounting stays.
import { gunzipSync, gzipSync } from "node:zlib";
import { type Expression, type SqlBool, sql } from "kysely";
import { BatchWriter } from "./batch-writer.js";
import type { Store } from "./db.js";
import type { CapturesTable, Executor, RequestRecord } from "./schema.js";
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

/** Extra rows other modules write in the same transaction as the request (tool calls, quota ledger…). */
export interface RowExtension {
  write(trx: Executor, requestId: string): Promise<void>;
  /**
   * Runs once the transaction has committed (work that must see the rows, such as delivering them); flush() waits for
   * the promise it returns.
   */
  committed?(): void | Promise<void>;
  /** Rewrites the request's capture before anything is stored (secrets masked out of captures). */
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

export class RequestLog {
  private readonly writer: BatchWriter<PendingEntry>;
  private readonly db;
  /** Work started by written rows (settlements against a shared bucket store) that flush() waits for. */
  private readonly followUps = new Set<Promise<void>>();

  /** Each row also enters the export queue (config `export`), in its own transaction. */
  private readonly queueForExport: boolean;

  constructor(
    private readonly store: Store,
    options: { intervalMs?: number; onError?: (err: unknown) => void; queueForExport?: boolean } = {},
  ) {
    this.db = store.db;
    this.queueForExport = options.queueForExport ?? false;
    this.writer = new BatchWriter({
      write: (entries) => this.write(entries),
      intervalMs: options.intervalMs ?? 200,
      onError: (err) => options.onError?.(err),
    });
  }

  /** One slice in one transaction: its request rows and captures as one INSERT each (a round trip each on PostgreSQL), then the extensions. */
  private async write(entries: readonly PendingEntry[]): Promise<void> {
    // A request id is written once; a repeat in one slice (never expected) keeps the last, as an upsert would.
    const rows = [...new Map(entries.map((e) => [e.row.id, e])).values()];
    const requests = rows.map(({ row }) => ({ ...row, tags: JSON.stringify(row.tags), flags: JSON.stringify(row.flags), streamed: row.streamed ? 1 : 0 }));
    const captures = rows.flatMap(({ row, capture }) => (capture ? [{ request_id: row.id, ts: row.ts, ...prepareCapture(capture) }] : []));
    await this.db.transaction().execute(async (trx) => {
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
      if (this.queueForExport) {
        await trx
          .insertInto("export_queue")
          .values(rows.map(({ row }) => ({ request_id: row.id, ts: row.ts })))
          .onConflict((oc) => oc.column("request_id").doNothing())
          .execute();
      }
      for (const { row, extensions } of entries) for (const ext of extensions) await ext.write(trx, row.id);
    });
    for (const { extensions } of entries) {
      for (const ext of extensions) {
        const after = ext.committed?.();
        if (!after) continue;
        // Their failures are theirs to report (and retry); here they only end the wait.
        const settled: Promise<void> = after.catch(() => undefined).finally(() => this.followUps.delete(settled));
        this.followUps.add(settled);
      }
    }
  }

  /** Queues a request for writing; the next tick compresses and writes it in one transaction with its extensions. */
  record(row: RequestRow, capture: Capture | null, extensions: readonly RowExtension[] = []): void {
    const masked = capture && extensions.reduce((c, ext) => ext.capture?.(c) ?? c, capture);
    this.writer.add({ row, capture: masked, extensions });
  }

  /** Writes everything queued, and waits for the work the written rows started. */
  async flush(): Promise<void> {
    await this.writer.flush();
    await Promise.allSettled([...this.followUps]);
  }

  /** Rows queued and not yet written. */
  get pending(): number {
    return this.writer.pending;
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
