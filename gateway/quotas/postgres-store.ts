// Bucket balances in PostgreSQL, shared by every gateway replica, so a budget holds across hosts. A reservation is one
// transaction: create the request's missing buckets (INSERT … ON CONFLICT DO NOTHING), lock all of them in one fixed
// order (SELECT … ORDER BY bucket COLLATE "C" FOR UPDATE: two requests sharing buckets queue on the first they share
// and cannot deadlock), refill, check and debit every line or none, with the same arithmetic as the SQLite store.
// Settlement is off the response path: the request log writes a durable outbox entry (settlements.ts) applied here
// by an idempotent transaction keyed by the request id.
import pg from "pg";
import { type PostgresQuotaStoreConfig, describePostgresUrl } from "../config/quota-store.js";
import { openStore, type Store } from "../store/db.js";
import type { RowExtension } from "../store/requests.js";
import {
  type BucketStore,
  BucketStoreUnavailable,
  type Charge,
  InFlight,
  type Line,
  type RefillResult,
  type ReserveResult,
  type SettleLine,
  type StoredBucket,
  chargesOf,
  planReservation,
  planSettlement,
} from "./bucket-store.js";
import { type BucketState, adjust, freshBucket, refill } from "./buckets.js";
import { type PendingSettlement, type SettledCharge, SettlementQueue } from "./settlements.js";

interface Row {
  bucket: string;
  quota: string;
  // BIGINT columns arrive as strings.
  balance_nanos: string;
  carry: string;
  updated_ms: string;
}

const toState = (r: Row): BucketState => ({ balance: Number(r.balance_nanos), carry: Number(r.carry), updatedMs: Number(r.updated_ms) });

/** A connection that broke before COMMIT was sent: nothing was committed, so the transaction can run again. */
const CONNECTION_LOST = /Connection terminated|ECONNRESET|EPIPE|terminating connection/i;

function causeOf(err: unknown): string {
  return err instanceof Error ? err.message || err.name : String(err);
}

export interface PostgresBucketStoreOptions {
  readonly config: PostgresQuotaStoreConfig;
  /** The gateway's store: pending settlements and the quota_charges rows reports join (the same database when it is PostgreSQL). */
  readonly store: Store;
  readonly now?: () => number;
  readonly onError?: (err: unknown, context: string) => void;
  /** Whether to migrate the database first (false when it is the gateway's own store, migrated already). */
  readonly migrate?: boolean;
  /** The first retry of a settlement that failed (later ones back off from there). */
  readonly retryMs?: number;
  /** This replica's name in outbox claims. */
  readonly replica?: string;
}

export class PostgresBucketStore implements BucketStore {
  readonly description: string;
  private readonly inFlight = new InFlight();
  private readonly queue: SettlementQueue;
  private readonly now: () => number;

  private constructor(
    private readonly pool: pg.Pool,
    options: PostgresBucketStoreOptions,
  ) {
    this.description = `postgres ${describePostgresUrl(options.config.url)}`;
    this.now = options.now ?? Date.now;
    this.queue = new SettlementQueue({
      store: options.store,
      settle: (p) => this.settle(p),
      settled: (charges) => this.inFlight.settled(charges),
      onError: options.onError ?? (() => undefined),
      retryMs: options.retryMs,
      owner: options.replica,
    });
  }

  /** Connects and creates the tables; an unreachable database is an error that says where and why. */
  static async open(options: PostgresBucketStoreOptions): Promise<PostgresBucketStore> {
    const { config } = options;
    const pool = new pg.Pool({
      connectionString: config.url,
      max: config.pool_size,
      connectionTimeoutMillis: config.timeout,
      // Server side: a statement (lock waits included) gives up; client side: a silent network does too.
      statement_timeout: config.timeout,
      query_timeout: config.timeout + 1000,
      // A gateway gone mid-transaction must not hold bucket locks for long.
      idle_in_transaction_session_timeout: 2 * config.timeout,
      application_name: "keyless",
      keepAlive: true,
    });
    // Idle connections the server closes (restart, pg_terminate_backend) are dropped and reopened on demand.
    pool.on("error", (err) => options.onError?.(err, "quota store connection"));
    pool.on("connect", (client) => client.on("error", () => undefined));
    const store = new PostgresBucketStore(pool, options);
    try {
      // A quota_store database of its own gets the same migrations as the gateway's store.
      if (options.migrate ?? true) await (await openStore({ type: "postgres", url: config.url, pool_size: 1, path: "" })).close();
      await store.query("SELECT 1", []);
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw new Error(`quota_store: cannot use PostgreSQL at ${describePostgresUrl(config.url)}: ${causeOf(err instanceof BucketStoreUnavailable ? err.cause : err)}`);
    }
    store.queue.start();
    return store;
  }

  /**
   * Runs `work` in one transaction on one connection. Any failure is a BucketStoreUnavailable; a connection lost
   * before COMMIT was sent (a stale pooled connection after a database restart) is retried once on a new one.
   */
  private async transaction<T>(work: (client: pg.PoolClient) => Promise<{ value: T; commit: boolean }>, retry = true): Promise<T> {
    let client: pg.PoolClient | undefined;
    let committing = false;
    // An error between two queries arrives as an event; without a listener it would crash the process.
    const ignore = () => undefined;
    try {
      client = await this.pool.connect();
      client.on("error", ignore);
      await client.query("BEGIN");
      const { value, commit } = await work(client);
      committing = commit;
      await client.query(commit ? "COMMIT" : "ROLLBACK");
      client.off("error", ignore);
      client.release();
      return value;
    } catch (err) {
      // The connection's state is unknown: close it (the server rolls back what was not committed).
      client?.off("error", ignore);
      client?.release(true);
      if (retry && !committing && client && CONNECTION_LOST.test(causeOf(err))) return this.transaction(work, false);
      throw new BucketStoreUnavailable(`quota store (${this.description}) unavailable: ${causeOf(err)}`, { cause: err });
    }
  }

  /** Creates the missing buckets full, then locks every one in a fixed order and returns them refilled to `now`. */
  private async lock(client: pg.PoolClient, charges: readonly Charge[], now: number): Promise<Map<string, BucketState>> {
    const names = charges.map((c) => c.bucket);
    await client.query(
      `INSERT INTO quota_buckets (bucket, quota, balance_nanos, carry, updated_ms)
       SELECT b, q, cap, 0, $4 FROM unnest($1::text[], $2::text[], $3::bigint[]) AS u(b, q, cap) ORDER BY b COLLATE "C"
       ON CONFLICT (bucket) DO NOTHING`,
      [names, charges.map((c) => c.quota), charges.map((c) => c.def.capacity), now],
    );
    const { rows } = await client.query<Row>(
      `SELECT bucket, quota, balance_nanos, carry, updated_ms FROM quota_buckets WHERE bucket = ANY($1::text[]) ORDER BY bucket COLLATE "C" FOR UPDATE`,
      [names],
    );
    const stored = new Map(rows.map((r) => [r.bucket, toState(r)]));
    return new Map(charges.map((c) => [c.bucket, refill(stored.get(c.bucket) ?? freshBucket(c.def, now), c.def, now)]));
  }

  private async write(client: pg.PoolClient, charges: readonly Charge[], states: ReadonlyMap<string, BucketState>): Promise<void> {
    const s = charges.map((c) => states.get(c.bucket)!);
    await client.query(
      `UPDATE quota_buckets AS b SET quota = u.q, balance_nanos = u.bal, carry = u.carry, updated_ms = u.upd
       FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[]) AS u(b, q, bal, carry, upd) WHERE b.bucket = u.b`,
      [charges.map((c) => c.bucket), charges.map((c) => c.quota), s.map((x) => x.balance), s.map((x) => x.carry), s.map((x) => x.updatedMs)],
    );
  }

  async reserve(lines: readonly Line[], nanos: number): Promise<ReserveResult> {
    const charges = chargesOf(lines);
    const result = await this.transaction(async (client) => {
      const now = this.now();
      const current = await this.lock(client, charges, now);
      const { result, states } = planReservation(lines, nanos, (c) => current.get(c.bucket)!);
      // Refused: roll back, so a refusal leaves no trace (as in SQLite).
      if (result.ok) await this.write(client, charges, states);
      return { value: result, commit: result.ok };
    });
    if (result.ok) this.inFlight.reserved(lines, result.portions);
    return result;
  }

  settlement(lines: readonly SettleLine[], charged: number, atReservation: boolean): RowExtension {
    return this.queue.entry(lines, charged, atReservation);
  }

  applied(requestId: string): Promise<void> {
    return this.queue.applied(requestId);
  }

  /**
   * Applies one settlement, once: a request already settled (a retry after a lost answer, or another process sharing
   * the SQLite file) returns the charges it recorded then.
   */
  async settle({ requestId, lines, charged, atReservation }: PendingSettlement): Promise<SettledCharge[]> {
    const charges = chargesOf(lines.map((l) => l.line));
    return this.transaction(async (client) => {
      const now = this.now();
      // Lock first: a concurrent settlement of the same request then sees the other's charges once it commits.
      const current = await this.lock(client, charges, now);
      const done = await client.query<{ bucket: string; quota: string; ts: string; reserved_nanos: string; charged_nanos: string }>(
        "SELECT bucket, quota, ts, reserved_nanos, charged_nanos FROM quota_charges WHERE request_id = $1",
        [requestId],
      );
      if (done.rows.length > 0) {
        const value = done.rows.map((r) => ({ bucket: r.bucket, quota: r.quota, ts: Number(r.ts), reserved: Number(r.reserved_nanos), charged: Number(r.charged_nanos) }));
        return { value, commit: false };
      }
      const plan = planSettlement(lines, charged, (c) => current.get(c.bucket)!);
      await this.write(client, charges, plan.states);
      const value = plan.charges.map((t) => ({ bucket: t.charge.bucket, quota: t.charge.quota, ts: now, reserved: t.reserved, charged: t.charged }));
      await client.query(
        `INSERT INTO quota_charges (request_id, bucket, quota, ts, reserved_nanos, charged_nanos, at_reservation)
         SELECT $1, b, q, $2, r, c, $6::bigint FROM unnest($3::text[], $4::text[], $5::bigint[], $7::bigint[]) AS u(b, q, r, c)`,
        [requestId, now, value.map((v) => v.bucket), value.map((v) => v.quota), value.map((v) => v.reserved), atReservation ? 1 : 0, value.map((v) => v.charged)],
      );
      return { value, commit: true };
    });
  }

  async peek(charge: Charge): Promise<BucketState> {
    const now = this.now();
    const { rows } = await this.query<Row>("SELECT bucket, quota, balance_nanos, carry, updated_ms FROM quota_buckets WHERE bucket = $1", [charge.bucket]);
    return refill(rows[0] ? toState(rows[0]) : freshBucket(charge.def, now), charge.def, now);
  }

  reserved(bucket: string): number {
    return this.inFlight.get(bucket);
  }

  async list(): Promise<StoredBucket[]> {
    const { rows } = await this.query<Row>(`SELECT bucket, quota, balance_nanos, carry, updated_ms FROM quota_buckets ORDER BY bucket COLLATE "C"`, []);
    return rows.map((r) => ({ bucket: r.bucket, quota: r.quota, ...toState(r) }));
  }

  async refill(charge: Charge, amount: number | null, principal: string): Promise<RefillResult> {
    return this.transaction(async (client) => {
      const now = this.now();
      const before = (await this.lock(client, [charge], now)).get(charge.bucket)!;
      const after = adjust(before, charge.def, amount ?? Math.max(0, charge.def.capacity - before.balance));
      await this.write(client, [charge], new Map([[charge.bucket, after]]));
      await client.query(
        "INSERT INTO quota_refills (ts, principal, bucket, amount_nanos, balance_before, balance_after) VALUES ($1, $2, $3, $4, $5, $6)",
        [now, principal, charge.bucket, after.balance - before.balance, before.balance, after.balance],
      );
      return { value: { before, after }, commit: true };
    });
  }

  /** Tries the pending settlements once more, then closes the connections; what is left settles at the next start. */
  async close(): Promise<void> {
    await this.queue.stop();
    await this.pool.end();
  }

  private async query<R extends pg.QueryResultRow>(sql: string, params: unknown[]): Promise<pg.QueryResult<R>> {
    try {
      return await this.pool.query<R>(sql, params);
    } catch (err) {
      throw new BucketStoreUnavailable(`quota store (${this.description}) unavailable: ${causeOf(err)}`, { cause: err });
    }
  }
}
