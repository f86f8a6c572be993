// GET /api/stats stays bounded whatever the store holds (at most MAX_SERIES series, the rest summed into "other";
// at most MAX_POINTS points), refuses bad windows, pins users to their own rows; CSV cells are formula-safe.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { csvCell, toCsv } from "../../gateway/api/csv.js";
import { MAX_SERIES, StatsResponse } from "../../gateway/ui/schemas/stats.js";
import { type Harness, startHarness } from "../helpers/gateway.js";
import { all, one } from "../helpers/store.js";
import { waitFor } from "../helpers/wait.js";

const CAP = "keyless.dev/cap/gateway";
const ADMIN = "127.0.0.2";
/** More principals than a chart draws series. */
const PEOPLE = Array.from({ length: MAX_SERIES + 3 }, (_, i) => ({ address: `127.0.0.${20 + i}`, login: `user${i}@example.com` }));

const sum = (v: readonly number[]) => v.reduce((a, b) => a + b, 0);

describe("GET /api/stats", () => {
  let h: Harness;

  before(async () => {
    h = await startHarness({
      peers: { [ADMIN]: { login: "admin@example.com" }, ...Object.fromEntries(PEOPLE.map((p) => [p.address, { login: p.login }])) },
      config: () => ({
        grants: [
          { src: ["*"], app: { [CAP]: [{ role: "user", models: "**" }] } },
          { src: ["admin@example.com"], app: { [CAP]: [{ role: "admin" }] } },
        ],
      }),
    });
    // Person i makes i + 1 requests, so the spend ranking is known.
    for (const [i, p] of PEOPLE.entries()) {
      const claude = new Anthropic({ apiKey: "x", baseURL: h.gateway.url, fetch: h.fetchFrom(p.address), maxRetries: 0 });
      for (let n = 0; n <= i; n++) await claude.messages.create({ model: "claude-sonnet-4-6", max_tokens: 10, messages: [{ role: "user", content: "x" }] });
    }
    const expected = (PEOPLE.length * (PEOPLE.length + 1)) / 2;
    await waitFor(async () => {
      await h.gateway.requestLog.flush();
      return ((await one<{ n: number }>(h.gateway.store, "SELECT COUNT(*) AS n FROM requests"))?.n ?? 0) === expected;
    }, 10_000, `${expected} request rows`);
  });
  after(() => h?.close());

  const stats = async (from: string, query: string) => {
    const res = await h.fetchFrom(from)(`${h.gateway.url}/api/stats?${query}`);
    return { status: res.status, body: (await res.json()) as unknown };
  };

  it("draws the most expensive groups and sums the rest into other", async () => {
    const { status, body } = await stats(ADMIN, "group=principal&range=24h");
    assert.equal(status, 200);
    const s = StatsResponse.parse(body);
    assert.equal(s.spend.series.length, MAX_SERIES);
    assert.deepEqual(s.spend.series.map((g) => g.key), PEOPLE.slice().reverse().slice(0, MAX_SERIES).map((p) => p.login), "most requests, most spend");
    assert.equal(s.spend.other?.keys, PEOPLE.length - MAX_SERIES);
    const stored = await all<{ principal: string; cost: number }>(h.gateway.store, "SELECT principal, SUM(cost_nanos) AS cost FROM requests GROUP BY principal");
    const shown = new Set(s.spend.series.map((g) => g.key));
    assert.equal(sum(s.spend.other!.cost_nanos), sum(stored.filter((r) => !shown.has(r.principal)).map((r) => r.cost)));
    assert.equal(sum(s.spend.series.flatMap((g) => g.cost_nanos)) + sum(s.spend.other!.cost_nanos), sum(stored.map((r) => r.cost)));
    assert.ok([24, 25].includes(s.times.length), `24 hourly slots, a partial one first unless now is on the hour: ${s.times.length}`);
  });

  it("refuses windows that are empty, too long or too finely cut", async () => {
    assert.equal((await stats(ADMIN, "from=2000&to=1000")).status, 400);
    assert.equal((await stats(ADMIN, "from=0&to=40000000000")).status, 400, "more than 366 days");
    const fine = await stats(ADMIN, "range=30d&step=5m");
    assert.equal(fine.status, 400);
    assert.match(JSON.stringify(fine.body), /at most 400/);
    assert.equal((await stats(ADMIN, "group=team")).status, 400);
    assert.equal((await stats(ADMIN, "range=7d&step=1h")).status, 200);
  });

  it("pins a user to their own principal", async () => {
    const me = PEOPLE[2]!;
    const mine = StatsResponse.parse((await stats(me.address, "group=principal")).body);
    assert.deepEqual(mine.spend.series.map((g) => g.key), [me.login]);
    assert.equal(sum(mine.requests.requests), 3);
    assert.equal((await stats(me.address, `principal=${encodeURIComponent(PEOPLE[0]!.login)}`)).status, 403);
    const one = StatsResponse.parse((await stats(ADMIN, `principal=${encodeURIComponent(PEOPLE[0]!.login)}`)).body);
    assert.equal(sum(one.requests.requests), 1, "an admin may ask for one principal");
  });
});

describe("CSV cells", () => {
  it("quotes what needs quoting and shows formulas as text", () => {
    assert.equal(csvCell("=1+2"), "'=1+2");
    assert.equal(csvCell("+cmd"), "'+cmd");
    assert.equal(csvCell("-rf"), "'-rf");
    assert.equal(csvCell("@SUM(A1)"), "'@SUM(A1)");
    assert.equal(csvCell("\tx"), "'\tx");
    assert.equal(csvCell('=HYPERLINK("http://x","y")'), `"'=HYPERLINK(""http://x"",""y"")"`);
    assert.equal(csvCell("a,b"), '"a,b"');
    assert.equal(csvCell("line\nbreak"), '"line\nbreak"');
    assert.equal(csvCell("plain text"), "plain text");
    assert.equal(csvCell(-5), "-5", "numbers are numbers");
    assert.equal(csvCell(null), "");
    assert.equal(toCsv(["a", "b"], [{ a: 1, b: "x" }]), "a,b\r\n1,x\r\n");
  });
});
