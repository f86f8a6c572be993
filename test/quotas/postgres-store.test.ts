// The PostgreSQL bucket store on its own: the same arithmetic as the SQLite store (checked side by side), reservations
// serialized across connection pools, no deadlock on overlapping buckets, idempotent settlement, durable pending
// settlements, restarts and audited refills, and a clear error when the database cannot be reached.
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import { QuotaDefinition } from "../../gateway/config/quotas.js";
import type { PostgresQuotaStoreConfig } from "../../gateway/config/quota-store.js";
import type { Charge, Line } from "../../gateway/quotas/bucket-store.js";
import { PostgresBucketStore } from "../../gateway/quotas/postgres-store.js";
import { QuotaStore } from "../../gateway/quotas/store.js";
import { openStore } from "../../gateway/store/db.js";
import { applyStoreWrite } from "../../gateway/store/log-writes.js";
import { all, one } from "../helpers/store.js";
import { type TestDatabase, createTestDatabase, startTcpRelay } from "../helpers/postgres.js";
import { waitFor } from "../helpers/wait.js";

const DAY = 86_400_000;
const D = 1_000_000_000;

function charge(bucket: string, capacity = "$10.00", rate = "$5.00/day"): Charge {
  return { bucket, quota: bucket.replace(/:.*/, ":<user>"), def: QuotaDefinition.parse({ capacity, rate }) };
}

/** The gateway's own store beside a quota_store of its own: SQLite, as before `database: postgres` existed. */
const localStore = () => openStore({ type: "sqlite", path: join(mkdtempSync(join(tmpdir(), "keyless-local-")), "k.db"), pool_size: 1 });

const pgConfig = (url: string): PostgresQuotaStoreConfig => ({ type: "postgres", url, pool_size: 10, timeout: 5000 });

describe("PostgreSQL bucket store", () => {
  let pgdb: TestDatabase;
  const opened: PostgresBucketStore[] = [];
  const open = async (now?: () => number, url = pgdb.url) => {
    const store = await PostgresBucketStore.open({ config: pgConfig(url), store: await localStore(), now, retryMs: 50 });
    opened.push(store);
    return store;
  };
  // Not reachable fails every test with the reason (a failed `before` would only cancel them).
  let unreachable: unknown;
  before(async () => {
    pgdb = await createTestDatabase().catch((err: unknown) => ((unreachable = err), pgdb));
  });
  beforeEach(() => {
    if (unreachable) throw unreachable;
  });
  after(async () => {
    await Promise.all(opened.map((s) => s.close().catch(() => undefined)));
    await pgdb?.drop();
  });

  it("computes exactly what the SQLite store computes, step by step (reserve, refuse, settle, refill, chains)", async () => {
    let now = 1_000;
    const sqlite = new QuotaStore(await localStore(), () => now);
    const shared = await open(() => now);
    const alice = charge("eq:alice", "$1.00", "$2.40/day");
    const team = charge("eq-team", "$3.00", "$0/day");
    const overflow = charge("eq-overflow", "$0.50", "$1.00/hour");
    const plans: { lines: Line[]; nanos: number; cost: number }[] = [
      { lines: [[alice], [team]], nanos: 400_000_000, cost: 123_456_789 },
      { lines: [[alice, overflow]], nanos: 900_000_000, cost: 2_100_000_000 },
      { lines: [[team], [alice, overflow]], nanos: 700_000_000, cost: 0 },
      { lines: [[alice]], nanos: 0, cost: 5 },
      { lines: [[team], [alice, overflow]], nanos: 2_000_000_000, cost: 2_500_000_000 },
    ];
    const outcomes = { admitted: 0, refused: 0, overdrawn: 0 };
    for (let round = 0; round < 4; round++) {
      for (const [i, { lines, nanos, cost }] of plans.entries()) {
        const a = (await sqlite.reserve(lines, nanos));
        const b = await shared.reserve(lines, nanos);
        assert.deepEqual(b, a, `round ${round}, plan ${i}: reservation`);
        now += 3_333_333;
        outcomes[a.ok ? "admitted" : "refused"]++;
        if (a.ok) {
          const settle = lines.map((line, j) => ({ line, portions: a.portions[j]! }));
          await sqlite.settle(`r${round}-${i}`, settle, cost, false);
          await shared.settle({ requestId: `r${round}-${i}`, lines: settle, charged: cost, atReservation: false });
        }
        for (const c of [alice, team, overflow]) {
          const state = await shared.peek(c);
          assert.deepEqual(state, (await sqlite.peek(c)), `round ${round}, plan ${i}: ${c.bucket}`);
          if (state.balance < 0) outcomes.overdrawn++;
        }
      }
      now += Math.floor(DAY / 7);
      const before = (await sqlite.refill(team, 250_000_000, "admin"));
      assert.deepEqual(await shared.refill(team, 250_000_000, "admin"), before);
    }
    assert.deepEqual(
      (await shared.list()).filter((b) => b.bucket.startsWith("eq")),
      (await sqlite.list()),
    );
    assert.ok(outcomes.admitted > 0 && outcomes.refused > 0 && outcomes.overdrawn > 0, JSON.stringify(outcomes));
  });

  it("admits exactly what the bucket covers when two gateways' pools reserve at once", async () => {
    const [s1, s2] = [await open(), await open()];
    const shared = charge("race", "$10.00", "$0/day");
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? s1 : s2).reserve([[shared]], D)));
    assert.equal(results.filter((r) => r.ok).length, 10);
    assert.equal((await s1.peek(shared)).balance, 0);
    assert.equal(s1.reserved("race") + s2.reserved("race"), 10 * D);
  });

  it("never deadlocks when requests lock overlapping buckets named in opposite orders", async () => {
    const [s1, s2] = [await open(), await open()];
    const a = charge("lock-a", "$100.00", "$0/day");
    const b = charge("lock-b", "$100.00", "$0/day");
    const c = charge("lock-c", "$100.00", "$0/day");
    const shapes: Line[][] = [[[a], [b], [c]], [[c], [b], [a]], [[b, a]], [[c, a], [b]]];
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 ? s1 : s2).reserve(shapes[i % shapes.length]!, 100_000_000)));
    assert.ok(results.every((r) => r.ok));
    // a is debited by the two shapes that name it as a line of its own (15 requests each); the chains take their first bucket.
    assert.equal((await s1.peek(a)).balance, 100 * D - 30 * 100_000_000);
    assert.equal((await s1.peek(b)).balance, 100 * D - 60 * 100_000_000);
  });

  it("applies a settlement once, however often it is retried", async () => {
    const store = await open(() => 0);
    const a = charge("once", "$1.00", "$0/day");
    const r = await store.reserve([[a]], 300_000_000);
    assert.ok(r.ok);
    const p = { requestId: "req_once", lines: [{ line: [a], portions: r.portions[0]! }], charged: 100_000_000, atReservation: false };
    const first = await store.settle(p);
    const again = await Promise.all([store.settle(p), store.settle(p)]);
    assert.deepEqual(again, [first, first]);
    assert.equal((await store.peek(a)).balance, 900_000_000);
    const { rows } = await pgdb.pool.query("SELECT bucket, reserved_nanos::int AS reserved, charged_nanos::int AS charged FROM quota_charges WHERE request_id = 'req_once'");
    assert.deepEqual(rows, [{ bucket: "once", reserved: 300_000_000, charged: 100_000_000 }]);
  });

  it("keeps a settlement in the local database while PostgreSQL is away, and applies it when it is back", async () => {
    const relay = await startTcpRelay("127.0.0.1", Number(new URL(pgdb.url).port || 5432));
    const local = await localStore();
    const store = await PostgresBucketStore.open({ config: pgConfig(pgdb.urlVia("127.0.0.1", relay.port)), store: local, retryMs: 50 });
    opened.push(store);
    const a = charge("outage", "$1.00", "$0/day");
    const r = await store.reserve([[a]], 600_000_000);
    assert.ok(r.ok);
    await relay.stop();
    await assert.rejects(store.reserve([[a]], 1), (err: Error) => err.name === "BucketStoreUnavailable" && /ECONNREFUSED/.test(err.message));
    // As the request log does: the entry is written with the request's row.
    const entry = store.settlement([{ line: [a], portions: r.portions[0]! }], 250_000_000, false);
    const write = entry.rows?.();
    assert.ok(write);
    await local.db.transaction().execute((trx) => applyStoreWrite(trx, "req_outage", write));
    entry.committed?.();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const pending = async () => (await one<{ n: number }>(local, "SELECT COUNT(*) AS n FROM outbox WHERE kind = 'settlement'"))?.n;
    assert.equal(await pending(), 1, "still pending: the database is away");
    assert.deepEqual(await one(local, "SELECT COUNT(*) AS n FROM quota_charges"), { n: 0 });
    await relay.start();
    await waitFor(async () => (await pending()) === 0, 5000, "the pending settlement to be applied");
    assert.equal((await store.peek(a)).balance, 750_000_000);
    assert.deepEqual(await all(local, "SELECT request_id, bucket, reserved_nanos, charged_nanos FROM quota_charges"), [
      { request_id: "req_outage", bucket: "outage", reserved_nanos: 600_000_000, charged_nanos: 250_000_000 },
    ]);
    assert.equal(store.reserved("outage"), 0);
    await relay.stop();
  });

  it("keeps balances across a restart and refills for the time it was down; refills are audited in PostgreSQL", async () => {
    let now = 5_000;
    const a = charge("restart:alice", "$10.00", "$5.00/day");
    const s1 = await open(() => now);
    const r = await s1.reserve([[a]], 7 * D);
    assert.ok(r.ok);
    await s1.settle({ requestId: "r1", lines: [{ line: [a], portions: r.portions[0]! }], charged: 6 * D, atReservation: false });
    await s1.close();
    now += DAY / 5;
    const s2 = await open(() => now);
    assert.equal((await s2.peek(a)).balance, 5 * D);
    const { before, after } = await s2.refill(a, 100 * D, "admin@example.com");
    assert.equal(before.balance, 5 * D);
    assert.equal(after.balance, 10 * D, "never beyond capacity");
    const { rows } = await pgdb.pool.query("SELECT principal, amount_nanos::bigint::text AS amount FROM quota_refills WHERE bucket = 'restart:alice'");
    assert.deepEqual(rows, [{ principal: "admin@example.com", amount: String(5 * D) }]);
  });

  it("refuses to start against a database it cannot reach, saying where and why", async () => {
    const relay = await startTcpRelay("127.0.0.1", 1);
    const port = relay.port;
    await relay.stop();
    await assert.rejects(
      PostgresBucketStore.open({ config: pgConfig(`postgres://keyless:hunter2@127.0.0.1:${port}/budgets`), store: await localStore() }),
      (err: Error) => {
        assert.match(err.message, new RegExp(`^quota_store: cannot use PostgreSQL at 127\\.0\\.0\\.1:${port}/budgets: .*ECONNREFUSED`));
        assert.doesNotMatch(err.message, /hunter2/);
        return true;
      },
    );
  });
});
