// `keyless serve --workers 2`: two processes behind one port share the SQLite store and its budgets. The same
// sequence of requests (real Anthropic SDK clients, each on its own connection, so both workers serve) admits exactly
// as many requests as one process does (a worker with its own view of the bucket would admit more), and the shared
// bucket's balance is its capacity minus every charge either worker made. Background jobs run in one worker: a config change on disk is audited once, not once per worker.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { Agent } from "undici";
import { DEFAULT_QUOTA_ESTIMATE } from "../../gateway/config/quotas.js";
import { anthropicMessages, anthropicUsage } from "../../gateway/dialects/anthropic/codec.js";
import { createPricer } from "../../gateway/pricing/prices.js";
import type { Exchange } from "../../gateway/proxy/exchange.js";
import { estimateCost } from "../../gateway/quotas/estimate.js";
import { Database } from "../../gateway/store/sqlite.js";
import { capture } from "../fakes/fixtures.js";
import { type FakeUpstream, startFakeUpstream } from "../fakes/upstream.js";
import { KEYS, defaultProviders } from "../helpers/gateway.js";
import { startCli } from "../helpers/cli.js";
import { waitFor } from "../helpers/wait.js";

const MODEL = "claude-sonnet-4-6";
const N = 24;
const PARAMS = { model: MODEL, max_tokens: 200, messages: [{ role: "user" as const, content: "run the tests" }] };

/** What the gateway reserves for PARAMS, computed by the same function. */
function estimate(): number {
  const ex = { body: PARAMS, info: anthropicMessages.requestInfo(PARAMS), format: anthropicMessages, provider: { name: "anthropic", adapter: { priceProvider: "anthropic" } }, model: MODEL };
  return estimateCost(ex as unknown as Exchange, createPricer({}), DEFAULT_QUOTA_ESTIMATE).nanos;
}

/** What one answer of the fake upstream costs (its usage, priced by the gateway's pricer). */
function answerCost(): number {
  const { usage } = JSON.parse(capture("fixtures/anthropic-messages-tool_use.json")) as { usage: unknown };
  return createPricer({}).cost({ provider: "anthropic", priceProvider: "anthropic", model: MODEL }, anthropicUsage(usage)!)!;
}

const exited = (child: ChildProcess) => new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : child.once("exit", () => resolve())));

interface RunResult {
  readonly admitted: number;
  readonly refused: number;
  /** keyless_requests_total as each client's connection (so each worker it reached) reports it. */
  readonly perConnection: readonly number[];
  readonly balance: number;
  readonly charged: number;
  readonly capacity: number;
}

describe("keyless serve --workers", () => {
  let upstream: FakeUpstream;
  let dir: string;
  before(async () => {
    upstream = await startFakeUpstream({ keys: KEYS });
    dir = mkdtempSync(join(tmpdir(), "keyless-workers-"));
  });
  after(() => upstream.close());

  // Room for one reservation plus ten answers: the budget bites within N.
  const capacity = () => estimate() + 10 * answerCost();

  async function run(workers: number): Promise<RunResult> {
    const configPath = join(dir, `w${workers}.json`);
    const dbPath = join(dir, `w${workers}.db`);
    const cap = capacity();
    writeFileSync(configPath, JSON.stringify({
      identity: { type: "local" },
      providers: defaultProviders(upstream.url),
      quotas: { shared: { capacity: `$${(cap / 1e9).toFixed(9)}`, rate: "$0/day" } },
      grants: [{ src: ["(loopback)"], app: { "keyless.dev/cap/gateway": [{ role: "admin", models: "**", quotas: [{ bucket: "shared" }] }] } }],
      database: { path: dbPath },
    }));
    const gw = await startCli(configPath, ["--workers", String(workers)]);
    // One connection per client: the cluster hands each new connection to the next worker.
    const agents = [new Agent({ connections: 1 }), new Agent({ connections: 1 })];
    const fetches = agents.map((dispatcher) => ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, { ...init, dispatcher } as RequestInit)) as typeof fetch);
    const clients = fetches.map((f) => new Anthropic({ apiKey: "placeholder", baseURL: gw.url, fetch: f, maxRetries: 0 }));
    try {
      let admitted = 0;
      let refused = 0;
      const db = new Database(dbPath, { readonly: true });
      const charges = () => (db.prepare("SELECT COUNT(*) AS n FROM quota_charges WHERE bucket = 'shared'").get() as { n: number }).n;
      for (let i = 0; i < N; i++) {
        try {
          const message = await clients[i % 2]!.messages.create(PARAMS);
          assert.equal(message.type, "message");
          admitted++;
          // A charge settles in its worker's log tick; the next request (on the other worker) comes after it, so
          // what is admitted depends only on what the store holds, not on when each worker writes.
          await waitFor(() => charges() === admitted, 5000, `charge ${admitted} to be settled`);
        } catch (err) {
          assert.ok(err instanceof Anthropic.RateLimitError, `request ${i}: ${String(err)}`);
          refused++;
        }
      }
      const perConnection: number[] = [];
      for (const f of fetches) {
        const text = await (await f(`${gw.url}/metrics`)).text();
        perConnection.push([...text.matchAll(/^keyless_requests_total\{[^}]*\} (\d+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0));
      }
      let balance = NaN;
      let charged = NaN;
      try {
        await waitFor(async () => {
          charged = (db.prepare("SELECT COALESCE(SUM(charged_nanos), 0) AS n FROM quota_charges WHERE bucket = 'shared'").get() as { n: number }).n;
          const quotas = (await (await fetches[0]!(`${gw.url}/api/quotas`)).json()) as { buckets: { bucket: string; balance_nanos: number }[] };
          balance = quotas.buckets.find((b) => b.bucket === "shared")?.balance_nanos ?? NaN;
          return balance === cap - charged;
        }, 5000, "the shared balance to equal capacity minus every charge").catch(() => undefined);
      } finally {
        db.close();
      }
      return { admitted, refused, perConnection, balance, charged, capacity: cap };
    } finally {
      gw.child.kill("SIGKILL");
      await Promise.all(agents.map((a) => a.close()));
    }
  }

  it("two workers charge one budget exactly as one process does", async () => {
    const one = await run(1);
    const two = await run(2);
    assert.ok(one.admitted > 0 && one.refused > 0, `the budget should bite within ${N} requests: ${JSON.stringify(one)}`);
    assert.equal(two.admitted, one.admitted, `one process admitted ${one.admitted}, two workers ${two.admitted}`);
    // Both workers served: each connection's worker counts only its own requests, and together they count all.
    assert.ok(two.perConnection.every((n) => n > 0), `per-worker counts ${two.perConnection}`);
    assert.equal(two.perConnection[0]! + two.perConnection[1]!, N, `per-worker counts ${two.perConnection}`);
    for (const r of [one, two]) {
      assert.ok(r.charged > 0);
      assert.equal(r.balance, r.capacity - r.charged, `balance ${r.balance} after charges of ${r.charged} from ${r.capacity}`);
    }
  });

  it("a config change on disk reaches every worker and is audited once", async () => {
    const configPath = join(dir, "reload.json");
    const dbPath = join(dir, "reload.db");
    const config = (models: string) => JSON.stringify({
      identity: { type: "local" },
      providers: defaultProviders(upstream.url),
      grants: [{ src: ["(loopback)"], app: { "keyless.dev/cap/gateway": [{ role: "admin", models }] } }],
      database: { path: dbPath },
    });
    writeFileSync(configPath, config("**"));
    const gw = await startCli(configPath, ["--workers", "2"]);
    const agents = [new Agent({ connections: 1 }), new Agent({ connections: 1 })];
    try {
      const clients = agents.map((dispatcher) => new Anthropic({ apiKey: "placeholder", baseURL: gw.url, maxRetries: 0, fetch: ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, { ...init, dispatcher } as RequestInit)) as typeof fetch }));
      for (const c of clients) assert.equal((await c.messages.create(PARAMS)).type, "message");
      writeFileSync(configPath, config("openai/**"));
      // Each worker reloads on its own: both refuse the model the new grant no longer names.
      for (const c of clients) {
        await waitFor(async () => {
          try {
            await c.messages.create(PARAMS);
            return false;
          } catch (err) {
            return err instanceof Anthropic.NotFoundError;
          }
        }, 10_000, "the worker to apply the new grant");
      }
      await new Promise((r) => setTimeout(r, 500));
      const db = new Database(dbPath, { readonly: true });
      const audits = db.prepare("SELECT source FROM config_audit").all() as { source: string }[];
      db.close();
      assert.deepEqual(audits, [{ source: "watch" }]);
    } finally {
      gw.child.kill("SIGTERM");
      await exited(gw.child);
      await Promise.all(agents.map((a) => a.close()));
    }
  });
});
