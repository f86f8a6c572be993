import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { QuotaDefinition } from "../../gateway/config/quotas.js";
import { QuotaStore, type Charge } from "../../gateway/quotas/store.js";
import { openStore } from "../../gateway/store/db.js";
import { all } from "../helpers/store.js";

const DAY = 86_400_000;
const D = 1_000_000_000;

function charge(bucket: string, capacity = "$10.00", rate = "$5.00/day"): Charge {
  return { bucket, quota: bucket.replace(/:.*/, ":<user>"), def: QuotaDefinition.parse({ capacity, rate }) };
}

function tempDb() {
  return join(mkdtempSync(join(tmpdir(), "keyless-quota-")), "q.db");
}

/** The SQLite bucket store is the one for SQLite stores; PostgreSQL has its own (postgres-store.test.ts). */
const sqlite = (path = tempDb()) => openStore({ type: "sqlite", path, pool_size: 1 });

describe("quota store", () => {
  it("reserves from every bucket or from none, and says which fell short", async () => {
    let now = 0;
    const store = new QuotaStore(await sqlite(), () => now);
    const a = charge("daily:alice", "$10.00");
    const b = charge("team:x", "$3.00");
    assert.deepEqual((await store.reserve([[a], [b]], 2 * D)), { ok: true, portions: [[2 * D], [2 * D]] });
    const refused = (await store.reserve([[a], [b]], 2 * D));
    assert.equal(refused.ok, false);
    assert.ok(!refused.ok);
    assert.equal(refused.short.length, 1);
    assert.equal(refused.short[0]!.bucket, "team:x");
    assert.equal(refused.short[0]!.balance, 1 * D);
    // $1 missing at $5/day = 17280 s.
    assert.equal(refused.short[0]!.retryAfter, 17_280);
    // Nothing was taken from alice's bucket by the refused request.
    assert.equal((await store.peek(a)).balance, 8 * D);
    assert.equal(store.reserved("daily:alice"), 2 * D);
    now = DAY;
    assert.equal((await store.peek(b)).balance, 3 * D);
  });

  it("settles to the actual cost, refunding or overdrawing, and records the charge", async () => {
    const db = await sqlite();
    const store = new QuotaStore(db, () => 0);
    const a = charge("daily:alice", "$1.00", "$0/day");
    assert.ok((await store.reserve([[a]], 300_000_000)).ok);
    await store.settle("req_1", [{ line: [a], portions: [300_000_000] }], 100_000_000, false);
    assert.equal((await store.peek(a)).balance, 900_000_000);
    assert.equal(store.reserved("daily:alice"), 0);
    assert.ok((await store.reserve([[a]], 900_000_000)).ok);
    await store.settle("req_2", [{ line: [a], portions: [900_000_000] }], 1_000_000_000, true);
    assert.equal((await store.peek(a)).balance, -100_000_000);
    const rows = await all(db, "SELECT request_id, charged_nanos, at_reservation FROM quota_charges ORDER BY request_id");
    assert.deepEqual(rows, [
      { request_id: "req_1", charged_nanos: 100_000_000, at_reservation: 0 },
      { request_id: "req_2", charged_nanos: 1_000_000_000, at_reservation: 1 },
    ]);
    // A zero estimate still needs a positive balance.
    assert.equal((await store.reserve([[a]], 0)).ok, false);
  });

  it("never refunds above capacity when the bucket refilled while the request was in flight", async () => {
    let now = 0;
    const store = new QuotaStore(await sqlite(), () => now);
    const a = charge("daily:alice", "$10.00", "$10.00/day");
    assert.ok((await store.reserve([[a]], 5 * D)).ok);
    now = DAY;
    await store.settle("r", [{ line: [a], portions: [5 * D] }], 0, false);
    assert.equal((await store.peek(a)).balance, 10 * D);
  });

  it("keeps balances across a restart and refills for the time it was down", async () => {
    const path = tempDb();
    let now = 1000;
    const a = charge("daily:alice", "$10.00", "$5.00/day");
    const db1 = await sqlite(path);
    const s1 = new QuotaStore(db1, () => now);
    assert.ok((await s1.reserve([[a]], 7 * D)).ok);
    await s1.settle("r1", [{ line: [a], portions: [7 * D] }], 6 * D, false);
    await db1.close();
    now += DAY / 5;
    const s2 = new QuotaStore(await sqlite(path), () => now);
    assert.equal((await s2.peek(a)).balance, 4 * D + 1 * D);
    assert.deepEqual(
      (await s2.list()).map((b) => [b.bucket, b.balance]),
      [["daily:alice", 4 * D]],
    );
  });

  it("caps the balance when the quota's capacity is lowered, and refills as an audited admin action", async () => {
    const db = await sqlite();
    const store = new QuotaStore(db, () => 0);
    const big = charge("team", "$100.00", "$0/day");
    assert.ok((await store.reserve([[big]], 10 * D)).ok);
    const small = { ...big, def: QuotaDefinition.parse({ capacity: "$20.00", rate: "$0/day" }) };
    assert.equal((await store.peek(small)).balance, 20 * D);
    assert.ok((await store.reserve([[small]], 15 * D)).ok);
    assert.equal((await store.peek(small)).balance, 5 * D);
    const { before, after } = (await store.refill(small, 100 * D, "admin@example.com"));
    assert.equal(before.balance, 5 * D);
    assert.equal(after.balance, 20 * D, "refills never exceed capacity");
    await store.refill(small, null, "admin@example.com");
    const audit = await all(db, "SELECT principal, bucket, amount_nanos FROM quota_refills");
    assert.deepEqual(audit, [
      { principal: "admin@example.com", bucket: "team", amount_nanos: 15 * D },
      { principal: "admin@example.com", bucket: "team", amount_nanos: 0 },
    ]);
  });

  it("serializes reservations across two connections to one file (BEGIN IMMEDIATE)", async () => {
    const path = tempDb();
    const a = charge("shared", "$10.00", "$0/day");
    const s1 = new QuotaStore(await sqlite(path));
    const s2 = new QuotaStore(await sqlite(path));
    let admitted = 0;
    for (let i = 0; i < 30; i++) if ((await (i % 2 ? s1 : s2).reserve([[a]], D)).ok) admitted++;
    assert.equal(admitted, 10);
    assert.equal((await s1.peek(a)).balance, 0);
  });

  it("overdraft chains spend the primary first, borrow the rest in order, and settle along the same chain", async () => {
    const db = await sqlite();
    const store = new QuotaStore(db, () => 0);
    const primary = charge("daily:alice", "$1.00", "$0/day");
    const overflow = charge("overflow", "$5.00", "$0/day");
    const chain = [primary, overflow];
    // $0.60 out of $1.00, then $0.80: $0.40 from the primary, $0.40 borrowed.
    const first = (await store.reserve([chain], 600_000_000));
    assert.deepEqual(first, { ok: true, portions: [[600_000_000, 0]] });
    await store.settle("r1", [{ line: chain, portions: [600_000_000, 0] }], 600_000_000, false);
    const second = (await store.reserve([chain], 800_000_000));
    assert.deepEqual(second, { ok: true, portions: [[400_000_000, 400_000_000]] });
    // It cost $0.50: the primary pays its $0.40, $0.10 stays borrowed.
    await store.settle("r2", [{ line: chain, portions: [400_000_000, 400_000_000] }], 500_000_000, false);
    assert.equal((await store.peek(primary)).balance, 0);
    assert.equal((await store.peek(overflow)).balance, 4_900_000_000);
    const rows = await all(db, "SELECT bucket, reserved_nanos, charged_nanos FROM quota_charges WHERE request_id = 'r2' ORDER BY bucket");
    assert.deepEqual(rows, [
      { bucket: "daily:alice", reserved_nanos: 400_000_000, charged_nanos: 400_000_000 },
      { bucket: "overflow", reserved_nanos: 400_000_000, charged_nanos: 100_000_000 },
    ]);
    // Refused only when the whole chain cannot cover it; the last bucket takes an overrun and goes negative.
    const refused = (await store.reserve([chain], 5 * D));
    assert.ok(!refused.ok);
    assert.equal(refused.short[0]!.bucket, "daily:alice → overflow");
    assert.equal(refused.short[0]!.balance, 4_900_000_000);
    assert.equal(refused.short[0]!.retryAfter, null);
    const big = (await store.reserve([chain], 4_900_000_000));
    assert.ok(big.ok);
    await store.settle("r3", [{ line: chain, portions: big.portions[0]! }], 5_900_000_000, true);
    assert.equal((await store.peek(overflow)).balance, -1 * D);
    assert.equal((await store.reserve([chain], 0)).ok, false, "a chain in debt stays blocked until refilled");
  });

  it("charges a bucket that is both a parallel line and a chain member on both", async () => {
    const store = new QuotaStore(await sqlite(), () => 0);
    const team = charge("team", "$10.00", "$0/day");
    const daily = charge("daily:bob", "$0.10", "$0/day");
    const result = (await store.reserve([[team], [daily, team]], D));
    assert.deepEqual(result, { ok: true, portions: [[D], [100_000_000, 900_000_000]] });
    assert.equal((await store.peek(team)).balance, 10 * D - D - 900_000_000);
    assert.equal(store.reserved("team"), D + 900_000_000);
  });
});
