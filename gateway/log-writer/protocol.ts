// The messages between the gateway and its log-writing worker thread (structured clones of plain data).
import type { LogEntry } from "../store/requests.js";

export interface WriterData {
  /** The SQLite file the worker opens (already migrated by the gateway). */
  readonly path: string;
  /** How long entries wait to be written together. */
  readonly intervalMs: number;
}

export type ToWriter =
  /** Entries numbered `first`, `first + 1`, …, in the order they were recorded. */
  | { readonly type: "entries"; readonly first: number; readonly entries: readonly LogEntry[] }
  | { readonly type: "flush"; readonly id: number }
  | { readonly type: "close" };

export type FromWriter =
  /** Every entry up to this number has committed. */
  | { readonly type: "committed"; readonly upTo: number }
  | { readonly type: "flushed"; readonly id: number }
  | { readonly type: "failed"; readonly message: string }
  | { readonly type: "closed" };
