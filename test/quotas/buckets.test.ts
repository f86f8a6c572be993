import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type QuotaDefinition, QuotaDefinition as QuotaSchema, parseRate } from "../../gateway/config/quotas.js";
import { adjust, expandBucket, freshBucket, refill, secondsUntil, templateMatches, templateValues } from "../../gateway/quotas/buckets.js";
import type { Identity } from "../../gateway/identity/types.js";

const DAY = 86_400_000;
const def = (capacity: string, rate: string): QuotaDefinition => QuotaSchema.parse({ capacity, rate });

describe("token-bucket arithmetic", () => {
  it("parses rates in every unit Aperture knows, month = 30 days", () => {
    assert.deepEqual(parseRate("$5.00/day"), { nanos: 5_000_000_000, periodMs: DAY, text: "$5.00/day" });
    assert.equal(parseRate("$1/min")?.periodMs, 60_000);
    assert.equal(parseRate("$1/hour")?.periodMs, 3_600_000);
    assert.equal(parseRate("$1/week")?.periodMs, 7 * DAY);
    assert.equal(parseRate("$500.00/month")?.periodMs, 30 * DAY);
    assert.equal(parseRate("$5/fortnight"), null);
    assert.equal(parseRate("5/day"), null);
    assert.throws(() => def("$10", "$5 per day"), /refill rate/);
  });

  it("starts full and refills at the rate, capped at capacity", () => {
    const d = def("$10.00", "$5.00/day");
    const t0 = 1_000_000;
    let s = adjust(freshBucket(d, t0), d, -8_000_000_000);
    assert.equal(s.balance, 2_000_000_000);
    s = refill(s, d, t0 + DAY / 2);
    assert.equal(s.balance, 4_500_000_000);
    s = refill(s, d, t0 + DAY);
    assert.equal(s.balance, 7_000_000_000);
    s = refill(s, d, t0 + 10 * DAY);
    assert.equal(s.balance, 10_000_000_000);
    assert.equal(s.carry, 0);
  });

  it("carries sub-nanodollar refill so many small steps add up exactly to one big step", () => {
    // $1/day = 11574.07… nanodollars per second: per-ms steps lose a fraction each time unless it is carried.
    const d = def("$100.00", "$1.00/day");
    const start = adjust(freshBucket(d, 0), d, -50_000_000_000);
    let stepped = start;
    for (let t = 7; t <= 7 * 10_000; t += 7) stepped = refill(stepped, d, t);
    const once = refill(start, d, 70_000);
    assert.equal(stepped.balance, once.balance);
    assert.equal(stepped.carry, once.carry);
    assert.equal(once.balance, 50_000_000_000 + Math.floor((1_000_000_000 * 70_000) / DAY));
  });

  it("does not overflow on large rates over long idle times", () => {
    const d = def("$100000.00", "$90000.00/month");
    const s = refill(adjust(freshBucket(d, 0), d, -99_999_000_000_000), d, 29 * DAY);
    assert.equal(s.balance, 1_000_000_000 + 87_000_000_000_000);
  });

  it("caps a balance above a lowered capacity at once, and never refills when the rate is zero", () => {
    const high = def("$10.00", "$1.00/day");
    const low = def("$3.00", "$1.00/day");
    assert.equal(refill(freshBucket(high, 0), low, 0).balance, 3_000_000_000);
    const frozen = def("$10.00", "$0/day");
    const s = adjust(freshBucket(frozen, 0), frozen, -10_000_000_000);
    assert.equal(refill(s, frozen, 365 * DAY).balance, 0);
    assert.equal(secondsUntil(s, frozen, 1), null);
  });

  it("ignores a clock that goes backwards", () => {
    const d = def("$10.00", "$10.00/day");
    const s = adjust(freshBucket(d, DAY), d, -10_000_000_000);
    const back = refill(s, d, 0);
    assert.equal(back.balance, 0);
    assert.equal(back.updatedMs, DAY);
  });

  it("computes seconds until the refill covers a need, rounding up", () => {
    const d = def("$10.00", "$1.00/min");
    const s = adjust(freshBucket(d, 0), d, -10_000_000_000);
    assert.equal(secondsUntil(s, d, 1_000_000_000), 60);
    assert.equal(secondsUntil(s, d, 1), 1);
    assert.equal(secondsUntil(s, d, 10_000_000_001), null, "more than capacity never fits");
    assert.equal(secondsUntil(refill(s, d, 30_000), d, 1_000_000_000), 30);
    // At the computed second the refill really covers it.
    const need = 123_456_789;
    const secs = secondsUntil(s, d, need)!;
    assert.ok(refill(s, d, secs * 1000).balance >= need);
    assert.ok(refill(s, d, (secs - 1) * 1000).balance < need);
  });

  it("lets a settled overdraft go negative and refills from there", () => {
    const d = def("$1.00", "$1.00/day");
    const s = adjust(freshBucket(d, 0), d, -1_500_000_000);
    assert.equal(s.balance, -500_000_000);
    assert.equal(refill(s, d, DAY / 2).balance, 0);
  });
});

describe("bucket names", () => {
  const identity: Identity = {
    principal: "tag:ci-acme-api",
    login: null,
    nodeId: "nNODE1",
    nodeName: "runner",
    tags: ["tag:ci-acme-api"],
    groups: [],
    capMap: {},
    addr: "127.0.0.2:5000",
  };

  it("expands every template, and session fields to - without a CI session", () => {
    const none = templateValues(identity, null);
    assert.equal(expandBucket("daily:<user>", none), "daily:tag:ci-acme-api");
    assert.equal(expandBucket("device:<node>", none), "device:nNODE1");
    assert.equal(expandBucket("pr:<repo>#<pr>", none), "pr:-#-");
    const session = { id: "s1", repository: "acme/api", repositoryId: "9", prNumber: 42, workflow: "agent", runId: "777" };
    const values = templateValues(identity, session);
    assert.equal(expandBucket("pr:<repo>#<pr>", values), "pr:acme/api#42");
    assert.equal(expandBucket("<workflow>/<run>", values), "agent/777");
    assert.equal(expandBucket("team-monthly", values), "team-monthly");
  });

  it("matches concrete names back to their template", () => {
    assert.ok(templateMatches("daily:<user>", "daily:alice@example.com"));
    assert.ok(templateMatches("pr:<repo>#<pr>", "pr:acme/api#42"));
    assert.ok(!templateMatches("daily:<user>", "weekly:alice"));
    assert.ok(templateMatches("team.monthly", "team.monthly"));
    assert.ok(!templateMatches("team.monthly", "teamXmonthly"));
  });

  it("refuses unknown templates and undefined quota references in the config", async () => {
    const { parseConfigText } = await import("../../gateway/config/load.js");
    const grants = (bucket: string) => [{ src: ["*"], app: { "keyless.dev/cap/gateway": [{ role: "user", models: "**", quotas: [{ bucket }] }] } }];
    assert.throws(
      () => parseConfigText(JSON.stringify({ quotas: { "daily:<login>": { capacity: "$1", rate: "$1/day" } } }), {}),
      /quotas.daily:<login>: unknown template <login>/,
    );
    assert.throws(
      () => parseConfigText(JSON.stringify({ quotas: { "daily:<user>": { capacity: "$1", rate: "$1/day" } }, grants: grants("weekly:<user>") }), {}),
      /grants.0.app.keyless.dev\/cap\/gateway.0.quotas.0.bucket: quotas references undefined quota "weekly:<user>"/,
    );
    assert.throws(
      () =>
        parseConfigText(
          JSON.stringify({
            quotas: { "daily:<user>": { capacity: "$1", rate: "$1/day" } },
            grants: [{ src: ["*"], app: { "keyless.dev/cap/gateway": [{ quotas: [{ bucket: "daily:<user>", overdraft: ["pool"] }] }] } }],
          }),
          {},
        ),
      /quotas.0.overdraft.0: quotas references undefined quota "pool"/,
    );
    const ok = parseConfigText(JSON.stringify({ quotas: { "daily:<user>": { capacity: "$1", rate: "$1/day" } }, grants: grants("daily:<user>") }), {});
    assert.equal(ok.config.quotas["daily:<user>"]?.capacity, 1_000_000_000);
    assert.equal(ok.config.quotas["daily:<user>"]?.on_exceed, "reject");
  });
});
