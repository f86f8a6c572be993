// Settlements for a shared bucket store, made durable in the gateway's own store. A finished request's settlement is
// written with its log row into the outbox (kind "settlement", keyed by the request id; one local transaction, as with
// the SQLite store), then applied to the shared store off the response path; only then is its quota_charges row
// written locally, where the reports join it with the request log. Entries are claimed in batches (store/outbox.ts),
// so two replicas never apply the same entry at once; a failed entry is retried after the outbox's backoff (with
// jitter) while the others go on, and one that still fails after GIVE_UP_MS is kept as a dead letter, never dropped.
// An entry survives a crash or a database outage; the shared store applies each request at most once.
import { randomUUID } from "node:crypto";
import type { Store } from "../store/db.js";
import { type Backoff, Outbox, type OutboxItem } from "../store/outbox.js";
import type { RowExtension } from "../store/requests.js";
import type { SettleLine } from "./bucket-store.js";

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
  /** This replica, as written in its claims. */
  readonly owner?: string;
  /** The first retry's delay; later ones double up to `maxRetryMs`. */
  readonly retryMs?: number;
  readonly maxRetryMs?: number;
  /** A claim lasts this long: more than a settlement takes (its statements time out sooner). */
  readonly leaseMs?: number;
  /** An entry failing this long after its request is given up on (a dead letter). */
  readonly giveUpMs?: number;
  readonly now?: () => number;
  readonly random?: () => number;
}

/** Settlements applied at once. Small: they share the pool with reservations, which are on the request path. */
const BATCH = 16;
const GIVE_UP_MS = 7 * 86_400_000;
/** Longest sleep between looks at the outbox (entries another replica wrote and left behind are found this way). */
const POLL_MS = 5_000;

/** The settlement as the outbox keeps it (its payload). */
interface StoredSettlement {
  readonly lines: readonly SettleLine[];
  readonly charged: number;
  readonly atReservation: boolean;
}

export class SettlementQueue {
  private readonly outbox: Outbox;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly backoff: Backoff;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private outage = false;
  private stopped = true;
  /** Who waits for a request's entry to be applied (webhooks/budget-alerts.ts reads the balance after it). */
  private readonly waiting = new Map<string, (() => void)[]>();

  constructor(private readonly deps: SettlementQueueDeps) {
    this.outbox = new Outbox(deps.store, deps.owner ?? `settlements:${randomUUID()}`);
    this.now = deps.now ?? Date.now;
    this.random = deps.random ?? Math.random;
    this.backoff = { baseMs: deps.retryMs ?? 1000, maxMs: deps.maxRetryMs ?? 30_000 };
  }

  /** The entry to write with the request's log row; once that commits, the queue is drained. */
  entry(lines: readonly SettleLine[], charged: number, atReservation: boolean): RowExtension {
    const settlement: StoredSettlement = { lines, charged, atReservation };
    return {
      rows: () => ({ kind: "quota_pending", payload: JSON.stringify(settlement), ts: Date.now() }),
      committed: () => this.drain(),
    };
  }

  /** Resolves once `requestId`'s entry has been applied; at once when none is pending (applied already, or none written). */
  async applied(requestId: string): Promise<void> {
    // Waiting first, then looking: an entry applied in between has either released this waiter or left no row.
    const done = new Promise<void>((resolve) => this.waiting.set(requestId, [...(this.waiting.get(requestId) ?? []), resolve]));
    try {
      const pending = await this.outbox.get("settlement", requestId);
      if (!pending || pending.deadAt !== null) this.release(requestId);
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
    this.stopped = false;
    void this.drain();
  }

  /** Stops retrying after one last attempt; entries left settle at the next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.drain();
    const left = await this.pending().catch(() => 0);
    if (left > 0) this.deps.onError(new Error(`${left} quota settlements pending`), "quota store closing (they are applied at the next start)");
  }

  /** Entries not yet applied (dead letters excluded). */
  pending(): Promise<number> {
    return this.outbox.pending("settlement");
  }

  /** Applies the due settlements; one pass at a time, another pass if entries arrived meanwhile; then sleeps until the next is due. */
  drain(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        // The store (PostgreSQL) may be away too: the entries wait for the next look.
        await this.pass().catch((err: unknown) => this.deps.onError(err, "quota settlements: reading the pending entries"));
      } while (this.again);
      await this.schedule();
    })().finally(() => (this.running = null));
    return this.running;
  }

  private async schedule(): Promise<void> {
    if (this.stopped) return;
    const next = await this.outbox.nextDue("settlement").catch(() => null);
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    const wait = next === null ? POLL_MS : Math.min(POLL_MS, Math.max(25, next - this.now()));
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.drain();
    }, wait);
    this.timer.unref();
  }

  private async pass(): Promise<void> {
    for (;;) {
      const items = await this.outbox.claim("settlement", this.now(), BATCH, this.deps.leaseMs ?? 60_000);
      if (items.length === 0) return;
      const results = await Promise.allSettled(items.map((item) => this.apply(item)));
      const errors = results.flatMap((r) => (r.status === "rejected" ? [r.reason as unknown] : []));
      if (errors.length === items.length) {
        // Nothing went through: the store is down. Say so once; each entry is retried after its backoff.
        if (!this.outage) this.deps.onError(errors[0], `quota settlements wait for the shared store (${await this.pending().catch(() => "?")} pending)`);
        this.outage = true;
        return;
      }
      this.outage = false;
      for (const err of errors) this.deps.onError(err, "quota settlement (will retry)");
      if (items.length < BATCH) return;
    }
  }

  /** Applies one entry; a failure reschedules it (or gives it up) and is rethrown for the pass to report. */
  private async apply(item: OutboxItem): Promise<void> {
    let p: PendingSettlement;
    try {
      const stored = JSON.parse(item.payload) as StoredSettlement;
      p = { requestId: item.key, lines: stored.lines, charged: stored.charged, atReservation: stored.atReservation };
    } catch (err) {
      await this.outbox.dead("settlement", item.key, this.now(), { attempted: false, status: null, error: `unreadable settlement: ${String(err)}` });
      this.release(item.key);
      throw err;
    }
    try {
      const charges = await this.deps.settle(p);
      await this.record(p, charges);
      this.deps.settled(charges);
      this.release(p.requestId);
    } catch (err) {
      await this.failed(item, err).catch(() => undefined);
      throw err;
    }
  }

  /** Writes the charges locally and drops the entry, in one transaction. */
  private async record(p: PendingSettlement, charges: readonly SettledCharge[]): Promise<void> {
    await this.deps.store.db.transaction().execute(async (trx) => {
      for (const c of charges) {
        const row = { quota: c.quota, ts: c.ts, reserved_nanos: c.reserved, charged_nanos: c.charged, at_reservation: p.atReservation ? 1 : 0 };
        await trx
          .insertInto("quota_charges")
          .values({ request_id: p.requestId, bucket: c.bucket, ...row })
          .onConflict((oc) => oc.columns(["request_id", "bucket"]).doUpdateSet(row))
          .execute();
      }
      await this.outbox.done("settlement", p.requestId, trx);
    });
  }

  private async failed(item: OutboxItem, err: unknown): Promise<void> {
    const now = this.now();
    const failure = { status: null, error: err instanceof Error ? err.message : String(err) };
    if (now - item.createdAt >= (this.deps.giveUpMs ?? GIVE_UP_MS)) {
      await this.outbox.dead("settlement", item.key, now, { ...failure, attempted: true });
      this.release(item.key);
      this.deps.onError(err, `quota settlement of ${item.key}: giving up after ${item.attempts + 1} attempts (dead letter)`);
      return;
    }
    await this.outbox.retry(item, now, this.backoff, failure, this.random);
  }
}
