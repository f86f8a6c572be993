// The messages between the gateway and its log-writing worker thread (structured clones of plain data).
import type { Line, ReserveResult } from "../quotas/bucket-store.js";
import type { LogEntry } from "../store/requests.js";

export interface WriterData {
  /** The SQLite file the worker opens (already migrated by the gateway). */
  readonly path: string;
  /** How long entries wait to be written together. */
  readonly intervalMs: number;
  /** Each row also enters the export queue (config `export`). */
  readonly queueForExport: boolean;
}

export type ToWriter =
  /**
   * Entries numbered `first`, `first + 1`, …, in the order they were recorded. `replayed`: sent again to a new worker
   * after one died, which may have committed some of them without saying so.
   */
  | { readonly type: "entries"; readonly first: number; readonly entries: readonly LogEntry[]; readonly replayed?: boolean }
  | { readonly type: "flush"; readonly id: number }
  /** A budget reservation, run between the log's transactions on the one connection that writes. */
  | { readonly type: "reserve"; readonly id: number; readonly lines: readonly Line[]; readonly nanos: number }
  | { readonly type: "close" };

export type FromWriter =
  /** Every entry up to this number has committed. */
  | { readonly type: "committed"; readonly upTo: number }
  | { readonly type: "flushed"; readonly id: number }
  | { readonly type: "reserved"; readonly id: number; readonly result: ReserveResult }
  | { readonly type: "reserve_failed"; readonly id: number; readonly message: string }
  | { readonly type: "failed"; readonly message: string }
  | { readonly type: "closed" };
