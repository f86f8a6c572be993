// Settlements for a shared bucket store, made durable in the gateway's own SQLite file. A finished request's
// settlement is written with its log row (one local transaction, as with the SQLite store), then applied to the shared
// store off the response path, retried until it is; only then is its quota_charges row written locally, where the
// reports join it with the request log. An entry survives a crash or a database outage and is settled at the next
// start or once the database is back; the shared store applies each request at most once.
import type { Db } from "../store/db.js";
import type { RowExtension } from "../store/requests.js";
import type { SettleLine } from "./bucket-store.js";

export const SETTLEMENTS_SCHEMA = `
CREATE TABLE IF NOT EXISTS quota_settlements_pending (
  request_id TEXT PRIMARY KEY,
  lines TEXT NOT NULL,
  charged_nanos INTEGER NOT NULL,
  at_reservation INTEGER NOT NULL,
  ts INTEGER NOT NULL
);
`;

export interface PendingSettlement {
  readonly requestId: string;
  /** With each bucket's quota definition as reserved under, so a settlement after a restart needs no config. */
  readonly lines: readonly SettleLine[];
  readonly charged: number;
  readonly atReservation: boolean;
}

/** One bucket's share of a settlement, as the shared store recorded it. */
export interface SettledCharge {
  readonly bucket: string;
  readonly quota: string;
  readonly ts: number;
  readonly reserved: number;
  readonly charged: number;
}

export interface SettlementQueueDeps {
  readonly db: Db;
  /** Applies a settlement (idempotent); throws while the shared store is unreachable. */
  readonly settle: (p: PendingSettlement) => Promise<SettledCharge[]>;
  readonly settled: (charges: readonly SettledCharge[]) => void;
  readonly onError: (err: unknown, context: string) => void;
  readonly retryMs?: number;
}

/** Settlements applied at once. Small: they share the pool with reservations, which are on the request path. */
const BATCH = 16;

interface PendingRow {
  request_id: string;
  lines: string;
  charged_nanos: number;
  at_reservation: number;
}

export class SettlementQueue {
  private readonly insert;
  private readonly due;
  private readonly record;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private outage = false;

  constructor(private readonly deps: SettlementQueueDeps) {
    deps.db.exec(SETTLEMENTS_SCHEMA);
    this.insert = deps.db.prepare(`INSERT OR IGNORE INTO quota_settlements_pending (request_id, lines, charged_nanos, at_reservation, ts)
      VALUES (?, ?, ?, ?, ?)`);
    this.due = deps.db.prepare("SELECT request_id, lines, charged_nanos, at_reservation FROM quota_settlements_pending ORDER BY ts LIMIT ?");
    const charge = deps.db.prepare(`INSERT OR REPLACE INTO quota_charges (request_id, bucket, quota, ts, reserved_nanos, charged_nanos, at_reservation)
      VALUES (@requestId, @bucket, @quota, @ts, @reserved, @charged, @atReservation)`);
    const done = deps.db.prepare("DELETE FROM quota_settlements_pending WHERE request_id = ?");
    this.record = deps.db.transaction((p: PendingSettlement, charges: readonly SettledCharge[]) => {
      for (const c of charges) charge.run({ requestId: p.requestId, ...c, atReservation: p.atReservation ? 1 : 0 });
      done.run(p.requestId);
    });
  }

  /** The entry to write with the request's log row; once that commits, the queue is drained. */
  entry(lines: readonly SettleLine[], charged: number, atReservation: boolean): RowExtension {
    return {
      write: (_db, requestId) => {
        this.insert.run(requestId, JSON.stringify(lines), charged, atReservation ? 1 : 0, Date.now());
        // Runs after the log's transaction has committed (better-sqlite3 is synchronous).
        setImmediate(() => void this.drain());
      },
    };
  }

  start(): void {
    this.timer = setInterval(() => void this.drain(), this.deps.retryMs ?? 1000);
    this.timer.unref();
    void this.drain();
  }

  /** Stops retrying after one last attempt; entries left settle at the next start. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.drain();
    const left = this.pending();
    if (left > 0) this.deps.onError(new Error(`${left} quota settlements pending`), "quota store closing (they are applied at the next start)");
  }

  pending(): number {
    return (this.deps.db.prepare("SELECT COUNT(*) AS n FROM quota_settlements_pending").get() as { n: number }).n;
  }

  /** Applies every pending settlement; one pass at a time, another pass if entries arrived meanwhile. */
  drain(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.pass();
      } while (this.again);
    })().finally(() => (this.running = null));
    return this.running;
  }

  private async pass(): Promise<void> {
    for (;;) {
      const rows = this.due.all(BATCH) as PendingRow[];
      if (rows.length === 0) return;
      const results = await Promise.allSettled(rows.map((r) => this.apply(r)));
      const errors = results.flatMap((r) => (r.status === "rejected" ? [r.reason as unknown] : []));
      if (errors.length === rows.length) {
        // Nothing went through: the store is down. Say so once, retry on the next tick.
        if (!this.outage) this.deps.onError(errors[0], `quota settlements wait for the shared store (${this.pending()} pending)`);
        this.outage = true;
        return;
      }
      this.outage = false;
      for (const err of errors) this.deps.onError(err, "quota settlement (will retry)");
      if (rows.length < BATCH || errors.length > 0) return;
    }
  }

  private async apply(row: PendingRow): Promise<void> {
    const p: PendingSettlement = {
      requestId: row.request_id,
      lines: JSON.parse(row.lines) as SettleLine[],
      charged: row.charged_nanos,
      atReservation: row.at_reservation === 1,
    };
    const charges = await this.deps.settle(p);
    this.record(p, charges);
    this.deps.settled(charges);
  }
}
