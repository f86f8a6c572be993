// The webhook outbox: asynchronous hook events are written in the same transaction as their request and deleted
// once the receiver took them, so a receiver that is down (or a gateway restart) loses nothing.
import type { Db } from "./db.js";

export const OUTBOX_SCHEMA = `
CREATE TABLE IF NOT EXISTS hook_outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  msg_id TEXT NOT NULL UNIQUE,
  hook TEXT NOT NULL,
  event TEXT NOT NULL,
  payload TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  due_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  last_status INTEGER,
  last_error TEXT
);
CREATE INDEX IF NOT EXISTS hook_outbox_due ON hook_outbox (due_at);
`;

export interface OutboxMessage {
  /** Standard Webhooks message id: the same on every retry, so receivers can deduplicate. */
  readonly msgId: string;
  readonly hook: string;
  readonly event: string;
  readonly payload: string;
}

export interface OutboxRow extends OutboxMessage {
  readonly id: number;
  readonly createdAt: number;
  readonly dueAt: number;
  readonly attempts: number;
}

interface DbOutboxRow {
  id: number;
  msg_id: string;
  hook: string;
  event: string;
  payload: string;
  created_at: number;
  due_at: number;
  attempts: number;
}

export class Outbox {
  constructor(private readonly db: Db) {}

  /** Queues messages; call inside the request's transaction (RowExtension.write) or on its own. */
  enqueue(messages: readonly OutboxMessage[], now: number, db: Db = this.db): void {
    const insert = db.prepare(`INSERT OR IGNORE INTO hook_outbox (msg_id, hook, event, payload, created_at, due_at)
      VALUES (?, ?, ?, ?, ?, ?)`);
    for (const m of messages) insert.run(m.msgId, m.hook, m.event, m.payload, now, now);
  }

  /** Messages due at `now`, oldest first, skipping ids already being delivered. */
  due(now: number, limit: number, skip: ReadonlySet<number>): OutboxRow[] {
    const rows = this.db
      .prepare("SELECT * FROM hook_outbox WHERE due_at <= ? ORDER BY due_at, id LIMIT ?")
      .all(now, limit + skip.size) as DbOutboxRow[];
    return rows
      .filter((r) => !skip.has(r.id))
      .slice(0, limit)
      .map((r) => ({
        id: r.id,
        msgId: r.msg_id,
        hook: r.hook,
        event: r.event,
        payload: r.payload,
        createdAt: r.created_at,
        dueAt: r.due_at,
        attempts: r.attempts,
      }));
  }

  /** When the next message falls due (epoch ms), or null when the outbox is empty. */
  nextDue(): number | null {
    const row = this.db.prepare("SELECT MIN(due_at) AS due FROM hook_outbox").get() as { due: number | null };
    return row.due;
  }

  delivered(id: number): void {
    this.db.prepare("DELETE FROM hook_outbox WHERE id = ?").run(id);
  }

  retryAt(id: number, dueAt: number, status: number | null, error: string): void {
    this.db
      .prepare("UPDATE hook_outbox SET attempts = attempts + 1, due_at = ?, last_status = ?, last_error = ? WHERE id = ?")
      .run(dueAt, status, error.slice(0, 500), id);
  }

  /** Gives a message up (expired, or its hook is gone from the config). */
  drop(id: number): void {
    this.db.prepare("DELETE FROM hook_outbox WHERE id = ?").run(id);
  }

  pending(): number {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM hook_outbox").get() as { n: number }).n;
  }
}
