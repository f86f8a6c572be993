// The request log with its writer: a worker thread with its own connection for a SQLite file, a batched writer on this
// thread for PostgreSQL (whose writes are network round trips, not CPU) and for an in-memory SQLite (which no other
// connection can open).
import type { DatabaseConfig } from "../config/schema.js";
import type { Store } from "../store/db.js";
import { RequestLog } from "../store/requests.js";
import type { Reserver } from "../quotas/store.js";
import { applyLogWrite } from "./apply.js";
import { WorkerSink } from "./sink.js";

export interface RequestLogSetup {
  readonly intervalMs?: number;
  readonly maxPending?: number;
  /** Each row also enters the export queue (config `export`). */
  readonly queueForExport: boolean;
  readonly onError: (err: unknown) => void;
}

export interface OpenedLog {
  readonly log: RequestLog;
  /** Budget reservations on the writer's connection, when the writer is a thread of its own. */
  readonly reserve?: Reserver;
}

export function openRequestLog(store: Store, database: Pick<DatabaseConfig, "path">, setup: RequestLogSetup): OpenedLog {
  const intervalMs = setup.intervalMs ?? 200;
  const { queueForExport, onError } = setup;
  const options = { intervalMs, onError, apply: applyLogWrite, queueForExport, ...(setup.maxPending ? { maxPending: setup.maxPending } : {}) };
  if (store.engine !== "sqlite" || database.path === ":memory:") return { log: new RequestLog(store, options) };
  const sink = new WorkerSink({ path: database.path, intervalMs, queueForExport, onError });
  return { log: new RequestLog(store, { ...options, sink }), reserve: (lines, nanos) => sink.reserve(lines, nanos) };
}
