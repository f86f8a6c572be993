// Settlements for a shared bucket store, made durable in the gateway's own store. A finished request's
// settlement is written with its log row (one local transaction, as with the SQLite store), then applied to the shared
// store off the response path, retried until it is; only then is its quota_charges row written locally, where the
// reports join it with the request log. An entry survives a crash or a database outage and is settled at the next
// start or once the database is back; the shared store applies each request at most once.
import type { Store } from "../store/db.js";
import type { RowExtension } from "../store/requests.js";
import type { SettleLine } from "./bucket-store.js";
import type { Selectable } from "kysely";
import type { QuotaSettlementsPendingTable } from "../store/schema.js";

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
  readonly store: Store;
  /** Applies a settlement (idempotent); throws while the shared store is unreachable. */
  readonly settle: (p: PendingSettlement) => Promise<SettledCharge[]>;
  readonly settled: (charges: readonly SettledCharge[]) => void;
  readonly onError: (err: unknown, context: string) => void;
  readonly retryMs?: number;
}

/** Settlements applied at once. Small: they share the pool with reservations, which are on the request path. */
const BATCH = 16;

export class SettlementQueue {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private outage = false;
  /** Who waits for a request's entry to be applied (webhooks/budget-alerts.ts reads the balance after it). */
  private readonly waiting = new Map<string, (() => void)[]>();

  constructor(private readonly deps: SettlementQueueDeps) {}

  /** The entry to write with the request's log row; once that commits, the queue is drained. */
  entry(lines: readonly SettleLine[], charged: number, atReservation: boolean): RowExtension {
    return {
      rows: () => ({ kind: "quota_pending", lines: JSON.stringify(lines), charged, atReservation, ts: Date.now() }),
      committed: () => this.drain(),
    };
  }

  /** Resolves once `requestId`'s entry has been applied; at once when none is pending (applied already, or none written). */
  async applied(requestId: string): Promise<void> {
    // Waiting first, then looking: an entry applied in between has either released this waiter or left no row.
    const done = new Promise<void>((resolve) => this.waiting.set(requestId, [...(this.waiting.get(requestId) ?? []), resolve]));
    try {
      const pending = await this.deps.store.db.selectFrom("quota_settlements_pending").select("request_id").where("request_id", "=", requestId).executeTakeFirst();
      if (!pending) this.release(requestId);
    } catch (err) {
      this.release(requestId);
      throw err;
    }
    return done;
  }

  private release(requestId: string): void {
    for (const resolve of this.waiting.get(requestId) ?? []) resolve();
    this.waiting.delete(requestId);
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
    const left = await this.pending().catch(() => 0);
    if (left > 0) this.deps.onError(new Error(`${left} quota settlements pending`), "quota store closing (they are applied at the next start)");
  }

  async pending(): Promise<number> {
    const row = await this.deps.store.db
      .selectFrom("quota_settlements_pending")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .executeTakeFirstOrThrow();
    return row.n;
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
        // The store (PostgreSQL) may be away too: the entries wait for the next tick.
        await this.pass().catch((err: unknown) => this.deps.onError(err, "quota settlements: reading the pending entries"));
      } while (this.again);
    })().finally(() => (this.running = null));
    return this.running;
  }

  private async pass(): Promise<void> {
    for (;;) {
      const rows = await this.deps.store.db.selectFrom("quota_settlements_pending").selectAll().orderBy("ts").limit(BATCH).execute();
      if (rows.length === 0) return;
      const results = await Promise.allSettled(rows.map((r) => this.apply(r)));
      const errors = results.flatMap((r) => (r.status === "rejected" ? [r.reason as unknown] : []));
      if (errors.length === rows.length) {
        // Nothing went through: the store is down. Say so once, retry on the next tick.
        if (!this.outage) this.deps.onError(errors[0], `quota settlements wait for the shared store (${await this.pending().catch(() => "?")} pending)`);
        this.outage = true;
        return;
      }
      this.outage = false;
      for (const err of errors) this.deps.onError(err, "quota settlement (will retry)");
      if (rows.length < BATCH || errors.length > 0) return;
    }
  }

  private async apply(row: Selectable<QuotaSettlementsPendingTable>): Promise<void> {
    const p: PendingSettlement = {
      requestId: row.request_id,
      lines: JSON.parse(row.lines) as SettleLine[],
      charged: row.charged_nanos,
      atReservation: row.at_reservation === 1,
    };
    const charges = await this.deps.settle(p);
    await this.deps.store.db.transaction().execute(async (trx) => {
      for (const c of charges) {
        const row = { quota: c.quota, ts: c.ts, reserved_nanos: c.reserved, charged_nanos: c.charged, at_reservation: p.atReservation ? 1 : 0 };
        await trx
          .insertInto("quota_charges")
          .values({ request_id: p.requestId, bucket: c.bucket, ...row })
          .onConflict((oc) => oc.columns(["request_id", "bucket"]).doUpdateSet(row))
          .execute();
      }
      await trx.deleteFrom("quota_settlements_pending").where("request_id", "=", p.requestId).execute();
    });
    this.deps.settled(charges);
    this.release(p.requestId);
  }
}
