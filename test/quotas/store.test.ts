import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { QuotaDefinition } from "../../gateway/config/quotas.js";
import { QUOTAS_SCHEMA, QuotaStore, type Charge } from "../../gateway/quotas/store.js";
import { openDatabase } from "../../gateway/store/db.js";

const DAY = 86_400_000;
const D = 1_000_000_000;

function charge(bucket: string, capacity = "$10.00", rate = "$5.00/day"): Charge {
  return { bucket, quota: bucket.replace(/:.*/, ":<user>"), def: QuotaDefinition.parse({ capacity, rate }) };
}

function tempDb() {
  return join(mkdtempSync(join(tmpdir(), "keyless-quota-")), "q.db");
}

describe("quota store", () => {
  it("reserves from every bucket or from none, and says which fell short", () => {
    let now = 0;
    const store = new QuotaStore(openDatabase(":memory:", [QUOTAS_SCHEMA]), () => now);
    const a = charge("daily:alice", "$10.00");
    const b = charge("team:x", "$3.00");
    assert.deepEqual(store.reserve([a, b], 2 * D), { ok: true });
    const refused = store.reserve([a, b], 2 * D);
    assert.equal(refused.ok, false);
    assert.ok(!refused.ok);
    assert.equal(refused.short.length, 1);
    assert.equal(refused.short[0]!.bucket, "team:x");
    assert.equal(refused.short[0]!.balance, 1 * D);
    // $1 missing at $5/day = 17280 s.
    assert.equal(refused.short[0]!.retryAfter, 17_280);
    // Nothing was taken from alice's bucket by the refused request.
    assert.equal(store.peek(a).balance, 8 * D);
    assert.equal(store.reserved("daily:alice"), 2 * D);
    now = DAY;
    assert.equal(store.peek(b).balance, 3 * D);
  });

  it("settles to the actual cost, refunding or overdrawing, and records the charge", () => {
    const db = openDatabase(":memory:", [QUOTAS_SCHEMA]);
    const store = new QuotaStore(db, () => 0);
    const a = charge("daily:alice", "$1.00", "$0/day");
    assert.ok(store.reserve([a], 300_000_000).ok);
    store.settle("req_1", [{ ...a, reserved: 300_000_000, charged: 100_000_000 }], false);
    assert.equal(store.peek(a).balance, 900_000_000);
    assert.equal(store.reserved("daily:alice"), 0);
    assert.ok(store.reserve([a], 900_000_000).ok);
    store.settle("req_2", [{ ...a, reserved: 900_000_000, charged: 1_000_000_000 }], true);
    assert.equal(store.peek(a).balance, -100_000_000);
    const rows = db.prepare("SELECT request_id, charged_nanos, at_reservation FROM quota_charges ORDER BY request_id").all();
    assert.deepEqual(rows, [
      { request_id: "req_1", charged_nanos: 100_000_000, at_reservation: 0 },
      { request_id: "req_2", charged_nanos: 1_000_000_000, at_reservation: 1 },
    ]);
    // A zero estimate still needs a positive balance.
    assert.equal(store.reserve([a], 0).ok, false);
  });

  it("never refunds above capacity when the bucket refilled while the request was in flight", () => {
    let now = 0;
    const store = new QuotaStore(openDatabase(":memory:", [QUOTAS_SCHEMA]), () => now);
    const a = charge("daily:alice", "$10.00", "$10.00/day");
    assert.ok(store.reserve([a], 5 * D).ok);
    now = DAY;
    store.settle("r", [{ ...a, reserved: 5 * D, charged: 0 }], false);
    assert.equal(store.peek(a).balance, 10 * D);
  });

  it("keeps balances across a restart and refills for the time it was down", () => {
    const path = tempDb();
    let now = 1000;
    const a = charge("daily:alice", "$10.00", "$5.00/day");
    const db1 = openDatabase(path, [QUOTAS_SCHEMA]);
    const s1 = new QuotaStore(db1, () => now);
    assert.ok(s1.reserve([a], 7 * D).ok);
    s1.settle("r1", [{ ...a, reserved: 7 * D, charged: 6 * D }], false);
    db1.close();
    now += DAY / 5;
    const s2 = new QuotaStore(openDatabase(path, [QUOTAS_SCHEMA]), () => now);
    assert.equal(s2.peek(a).balance, 4 * D + 1 * D);
    assert.deepEqual(
      s2.list().map((b) => [b.bucket, b.balance]),
      [["daily:alice", 4 * D]],
    );
  });

  it("caps the balance when the quota's capacity is lowered, and refills as an audited admin action", () => {
    const db = openDatabase(":memory:", [QUOTAS_SCHEMA]);
    const store = new QuotaStore(db, () => 0);
    const big = charge("team", "$100.00", "$0/day");
    assert.ok(store.reserve([big], 10 * D).ok);
    const small = { ...big, def: QuotaDefinition.parse({ capacity: "$20.00", rate: "$0/day" }) };
    assert.equal(store.peek(small).balance, 20 * D);
    assert.ok(store.reserve([small], 15 * D).ok);
    assert.equal(store.peek(small).balance, 5 * D);
    const { before, after } = store.refill(small, 100 * D, "admin@example.com");
    assert.equal(before.balance, 5 * D);
    assert.equal(after.balance, 20 * D, "refills never exceed capacity");
    store.refill(small, null, "admin@example.com");
    const audit = db.prepare("SELECT principal, bucket, amount_nanos FROM quota_refills").all();
    assert.deepEqual(audit, [
      { principal: "admin@example.com", bucket: "team", amount_nanos: 15 * D },
      { principal: "admin@example.com", bucket: "team", amount_nanos: 0 },
    ]);
  });

  it("serializes reservations across two connections to one file (BEGIN IMMEDIATE)", () => {
    const path = tempDb();
    const a = charge("shared", "$10.00", "$0/day");
    const s1 = new QuotaStore(openDatabase(path, [QUOTAS_SCHEMA]));
    const s2 = new QuotaStore(openDatabase(path, [QUOTAS_SCHEMA]));
    let admitted = 0;
    for (let i = 0; i < 30; i++) if ((i % 2 ? s1 : s2).reserve([a], D).ok) admitted++;
    assert.equal(admitted, 10);
    assert.equal(s1.peek(a).balance, 0);
  });
});
