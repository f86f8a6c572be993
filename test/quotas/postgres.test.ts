// Budgets across replicas: real gateways sharing one PostgreSQL bucket store. 100 concurrent streamed requests split
// across two gateways against a bucket worth 10 of them admit 10 in all; the same scenario with each gateway on its
// own SQLite file admits 20 and overspends, which is what the shared store is for. Also: a store that goes away fails
// closed with a 503 in the provider's shape and settles what was in flight once it is back; connections cut by the
// server are reopened; balances outlive the gateways; refills on one replica are seen by the other.
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import { parseConfigText } from "../../gateway/config/load.js";
import { DEFAULT_QUOTA_ESTIMATE } from "../../gateway/config/quotas.js";
import { formatDollars } from "../../gateway/config/units.js";
import { anthropicMessages } from "../../gateway/dialects/anthropic/codec.js";
import { createPricer } from "../../gateway/pricing/prices.js";
import type { Exchange } from "../../gateway/proxy/exchange.js";
import { estimateCost } from "../../gateway/quotas/estimate.js";
import { startGateway } from "../../gateway/server.js";
import { type Harness, startHarness } from "../helpers/gateway.js";
import { type TcpRelay, type TestDatabase, createTestDatabase, startTcpRelay, terminateConnections } from "../helpers/postgres.js";
import { waitFor } from "../helpers/wait.js";
import { one } from "../helpers/store.js";

const CAP = "keyless.dev/cap/gateway";
const N = 100;
const PEERS = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"];
const ADMIN = "127.0.0.9";
const MODEL = "claude-sonnet-4-6";
const BODY = JSON.stringify({ model: MODEL, max_tokens: 1000, stream: true, messages: [{ role: "user", content: "run the tests and fix what fails" }] });
const HEADERS = { "content-type": "application/json", "anthropic-version": "2023-06-01" };

/** The reservation the gateway makes for BODY, computed by the same function. */
function expectedEstimate(): number {
  const parsed = JSON.parse(BODY) as unknown;
  const ex = { body: parsed, info: anthropicMessages.requestInfo(parsed), format: anthropicMessages, provider: { name: "anthropic", adapter: { priceProvider: "anthropic" } }, model: MODEL };
  return estimateCost(ex as unknown as Exchange, createPricer({}), DEFAULT_QUOTA_ESTIMATE).nanos;
}

/** A stream that uses its whole max_tokens: the actual cost is close to the reservation, so overspend shows in dollars. */
const FULL_STREAM = [
  { type: "message_start", message: { id: "msg_full", type: "message", role: "assistant", model: MODEL, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 12, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 1 } } },
  { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } },
  { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "all green" } },
  { type: "content_block_stop", index: 0 },
  { type: "message_delta", delta: { stop_reason: "max_tokens", stop_sequence: null }, usage: { output_tokens: 1000 } },
  { type: "message_stop" },
].map((e) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);

/** Sends the first event at once and the rest once `gate` opens, so every admitted stream is open at the same time. */
function gatedStream(gate: Promise<void>): Response {
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      controller.enqueue(encoder.encode(FULL_STREAM[0]!));
      await gate;
      for (const event of FULL_STREAM.slice(1)) controller.enqueue(encoder.encode(event));
      controller.close();
    },
  });
  return new Response(body, { headers: { "content-type": "text/event-stream; charset=utf-8" } });
}

function gatewayConfig(bucket: string, capacity: number, store: Record<string, unknown> | null) {
  return () => ({
    quotas: { [bucket]: { capacity: `$${(capacity / 1e9).toFixed(9)}`, rate: "$0/day" } },
    grants: [
      { src: ["admin@example.com"], app: { [CAP]: [{ role: "admin" }] } },
      { src: ["*"], app: { [CAP]: [{ role: "user", models: "**", quotas: [{ bucket }] }] } },
    ],
    ...(store ? { quota_store: store } : {}),
  });
}

const peers = Object.fromEntries([...PEERS.map((ip, i) => [ip, { login: `dev${i}@example.com` }]), [ADMIN, { login: "admin@example.com" }]]);

async function replica(bucket: string, capacity: number, store: Record<string, unknown> | null): Promise<Harness> {
  return startHarness({ peers, config: gatewayConfig(bucket, capacity, store) });
}

const pending = async (h: Harness) => ((await one(h.gateway.store, "SELECT COUNT(*) AS n FROM outbox WHERE kind = 'settlement'")) as { n: number } | undefined)?.n ?? 0;
const localCharges = async (h: Harness, bucket: string) =>
  (await one(h.gateway.store, "SELECT COUNT(*) AS n, COALESCE(SUM(charged_nanos), 0) AS total FROM quota_charges WHERE bucket = ?", bucket)) as { n: number; total: number };

async function pgBalance(db: TestDatabase, bucket: string): Promise<number> {
  const { rows } = await db.pool.query<{ balance: string }>("SELECT balance_nanos AS balance FROM quota_buckets WHERE bucket = $1", [bucket]);
  return Number(rows[0]!.balance);
}

/** Request ids whose log rows hold the actual cost; waits for each gateway to write them. */
async function spentOn(h: Harness, ids: readonly string[]): Promise<number> {
  const rows = await waitFor(async () => {
    await h.gateway.requestLog.flush();
    const found = await Promise.all(ids.map(async (id) => (await h.gateway.requestLog.get(id))?.row));
    return found.every((r) => r !== undefined) ? found.map((r) => r!) : undefined;
  }, 10_000, "every admitted request's row");
  assert.ok(rows.every((r) => r.streamed && r.cost_nanos! > 0), "every stream was priced");
  return rows.reduce((sum, r) => sum + r.cost_nanos!, 0);
}

/** N concurrent streamed requests, alternating between the gateways, all held open until every answer is in. */
async function burst(gateways: readonly Harness[]) {
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  for (const h of gateways) for (let i = 0; i < N / gateways.length; i++) h.upstream.once(/^\/v1\/messages$/, () => gatedStream(gate));
  const upstreamBefore = gateways.map((h) => h.upstream.requests.length);
  const responses = await Promise.all(
    Array.from({ length: N }, async (_, i) => {
      const h = gateways[i % gateways.length]!;
      const res = await h.fetchFrom(PEERS[i % PEERS.length]!)(`${h.gateway.url}/v1/messages`, { method: "POST", headers: HEADERS, body: BODY });
      return { h, res };
    }),
  );
  const statuses = responses.map((r) => r.res.status);
  assert.ok(statuses.every((s) => s === 200 || s === 429), `unexpected statuses: ${statuses.join(",")}`);
  const admitted = responses.filter((r) => r.res.status === 200);
  const forwarded = gateways.reduce((sum, h, i) => sum + h.upstream.requests.length - upstreamBefore[i]!, 0);
  assert.equal(forwarded, admitted.length, "refused requests never reached an upstream");
  open();
  const bodies = await Promise.all(admitted.map((r) => r.res.text()));
  assert.ok(bodies.every((b) => b.includes("message_stop")));
  await Promise.all(responses.filter((r) => r.res.status !== 200).map((r) => r.res.text()));
  let spent = 0;
  for (const h of gateways) spent += await spentOn(h, admitted.filter((r) => r.h === h).map((r) => r.res.headers.get("x-keyless-request-id")!));
  return { admitted: admitted.length, perGateway: gateways.map((h) => admitted.filter((r) => r.h === h).length), spent };
}

/** The fields these tests read from provider errors and the quota API. */
interface Answer {
  readonly type?: string;
  readonly error: { readonly type?: string; readonly code?: string; readonly message: string };
  readonly buckets: readonly { readonly bucket: string; readonly balance_nanos: number }[];
  readonly added_nanos?: number;
}

async function call(h: Harness, from: string, method: string, path: string, body?: unknown) {
  const res = await h.fetchFrom(from)(`${h.gateway.url}${path}`, { method, headers: HEADERS, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Answer };
}

describe("budgets across replicas (PostgreSQL bucket store)", () => {
  const estimate = expectedEstimate();
  // Worth 10.5 reservations: exactly 10 fit at once.
  const capacity = Math.floor(10.5 * estimate);
  let pgdb: TestDatabase;
  const started: Harness[] = [];
  const relays: TcpRelay[] = [];
  const pgStore = (url = pgdb.url) => ({ type: "postgres", url });
  const start = async (bucket: string, store: Record<string, unknown> | null, cap = capacity) => {
    const h = await replica(bucket, cap, store);
    started.push(h);
    return h;
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
    await Promise.all(started.map((h) => h.close().catch(() => undefined)));
    await Promise.all(relays.map((r) => r.stop()));
    await pgdb?.drop();
  });

  it("two gateways sharing PostgreSQL admit what the bucket covers across both, and settle every stream to its cost", async (t) => {
    const bucket = "replicas-pg";
    const [a, b] = [await start(bucket, pgStore()), await start(bucket, pgStore())];
    const { admitted, perGateway, spent } = await burst([a, b]);
    assert.equal(admitted, Math.floor(capacity / estimate), `admitted ${perGateway.join(" + ")}`);
    assert.ok(perGateway.every((n) => n > 0), `both gateways admitted some: ${perGateway.join(" + ")}`);
    await waitFor(async () => (await pending(a)) === 0 && (await pending(b)) === 0 && (await localCharges(a, bucket)).n + (await localCharges(b, bucket)).n === admitted, 10_000, "every settlement applied");
    const balance = await pgBalance(pgdb, bucket);
    assert.equal(balance, capacity - spent, "the shared bucket was charged exactly what both logs say was spent");
    assert.ok(balance >= 0, "no overspend: every reservation was an upper bound");
    assert.ok(capacity - spent < estimate, "and the budget was used: less than one more request's worth is left");
    const { rows } = await pgdb.pool.query<{ n: string; total: string }>("SELECT COUNT(*) AS n, SUM(charged_nanos) AS total FROM quota_charges WHERE bucket = $1", [bucket]);
    assert.deepEqual({ n: Number(rows[0]!.n), total: Number(rows[0]!.total) }, { n: admitted, total: spent });
    assert.equal((await localCharges(a, bucket)).total + (await localCharges(b, bucket)).total, spent, "each gateway's reports see its own requests' charges");
    t.diagnostic(`postgres: estimate ${formatDollars(estimate)}, bucket ${formatDollars(capacity)}: admitted ${perGateway.join(" + ")} = ${admitted}/${N}, spent ${formatDollars(spent)}, balance ${formatDollars(balance)}`);
  });

  it("the same two gateways on their own SQLite files each enforce the whole budget: twice the admissions, overspent", async (t) => {
    const bucket = "replicas-sqlite";
    const [a, b] = [await start(bucket, null), await start(bucket, null)];
    const { admitted, perGateway, spent } = await burst([a, b]);
    const fit = Math.floor(capacity / estimate);
    assert.deepEqual(perGateway, [fit, fit], "each gateway admitted a whole budget's worth");
    assert.equal(admitted, 2 * fit);
    assert.ok(spent > capacity, `spent ${formatDollars(spent)} of a ${formatDollars(capacity)} budget`);
    // Each gateway believes it held the budget.
    const local = async (h: Harness) => ((await one(h.gateway.store, "SELECT balance_nanos AS b FROM quota_buckets WHERE bucket = ?", bucket)) as { b: number }).b;
    await waitFor(async () => (await localCharges(a, bucket)).n + (await localCharges(b, bucket)).n === admitted, 5000, "settlements");
    assert.ok((await local(a)) >= 0 && (await local(b)) >= 0);
    t.diagnostic(`sqlite ×2: admitted ${perGateway.join(" + ")} = ${admitted}/${N}, spent ${formatDollars(spent)} of ${formatDollars(capacity)} (overspent ${formatDollars(spent - capacity)})`);
  });

  it("fails closed with a 503 in the provider's shape while PostgreSQL is away, and settles what was in flight when it is back", async () => {
    const bucket = "outage";
    const relay = await startTcpRelay("127.0.0.1", Number(new URL(pgdb.url).port || 5432));
    relays.push(relay);
    const h = await start(bucket, pgStore(pgdb.urlVia("127.0.0.1", relay.port)), 5 * estimate);
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    h.upstream.once(/^\/v1\/messages$/, () => gatedStream(gate));
    const inFlight = await h.fetchFrom(PEERS[0]!)(`${h.gateway.url}/v1/messages`, { method: "POST", headers: HEADERS, body: BODY });
    assert.equal(inFlight.status, 200);
    await relay.stop();

    const upstreamBefore = h.upstream.requests.length;
    const cause = /^budget check failed, request not forwarded: quota store \(postgres 127\.0\.0\.1:\d+\/keyless_test_\w+\) unavailable: connect ECONNREFUSED/;
    const anthropic = await call(h, PEERS[1]!, "POST", "/v1/messages", { model: MODEL, max_tokens: 100, messages: [{ role: "user", content: "hi" }] });
    assert.equal(anthropic.status, 503);
    assert.equal(anthropic.body.type, "error");
    assert.equal(anthropic.body.error.type, "overloaded_error");
    assert.match(anthropic.body.error.message, cause);
    const openai = await call(h, PEERS[1]!, "POST", "/v1/chat/completions", { model: "gpt-4o", max_tokens: 100, messages: [{ role: "user", content: "hi" }] });
    assert.equal(openai.status, 503);
    assert.equal(openai.body.error.type, "server_error");
    assert.match(openai.body.error.message, cause);
    assert.equal(h.upstream.requests.length, upstreamBefore, "nothing was forwarded unchecked");
    const api = await call(h, ADMIN, "GET", "/api/quotas");
    assert.equal(api.status, 503);
    assert.equal(api.body.error.code, "quota_store_unavailable");
    await h.gateway.requestLog.flush();
    const denied = (await h.gateway.requestLog.list({ limit: 2 }));
    assert.ok(denied.every((r) => r.status === 503 && r.denial?.startsWith("quota: budget check failed")), JSON.stringify(denied.map((r) => r.denial)));

    // The request admitted before the outage ends now: its settlement waits in the gateway's own database.
    open();
    const id = inFlight.headers.get("x-keyless-request-id")!;
    await inFlight.text();
    const cost = await spentOn(h, [id]);
    await waitFor(async () => (await pending(h)) === 1, 5000, "the settlement to be queued");
    assert.equal(await pgBalance(pgdb, bucket), 5 * estimate - estimate, "still reserved, not settled");

    await relay.start();
    await waitFor(async () => (await pending(h)) === 0, 10_000, "the queued settlement to be applied");
    assert.equal(await pgBalance(pgdb, bucket), 5 * estimate - cost);
    assert.equal((await localCharges(h, bucket)).total, cost);
    const again = await call(h, PEERS[1]!, "POST", "/v1/messages", { model: MODEL, max_tokens: 100, messages: [{ role: "user", content: "hi" }] });
    assert.equal(again.status, 200, "admitted again once the store is back");
  });

  it("a gateway pointed at a PostgreSQL it cannot reach does not start, and says why", async () => {
    const relay = await startTcpRelay("127.0.0.1", 1);
    const port = relay.port;
    await relay.stop();
    const path = join(mkdtempSync(join(tmpdir(), "keyless-pg-")), "keyless.db");
    const loaded = parseConfigText(JSON.stringify({ database: { path }, quota_store: { type: "postgres", url: `postgres://keyless@127.0.0.1:${port}/budgets` } }), {});
    await assert.rejects(startGateway({ loaded, listen: "127.0.0.1:0", log: () => undefined }), (err: Error) => {
      assert.match(err.message, new RegExp(`^quota_store: cannot use PostgreSQL at 127\\.0\\.0\\.1:${port}/budgets: connect ECONNREFUSED`));
      return true;
    });
  });

  it("reopens connections the server cut (restart, failover, pg_terminate_backend) without failing a request", async () => {
    const bucket = "terminated";
    const h = await start(bucket, pgStore());
    const ask = () => call(h, PEERS[0]!, "POST", "/v1/messages", { model: MODEL, max_tokens: 100, messages: [{ role: "user", content: "hi" }] });
    assert.equal((await ask()).status, 200);
    assert.ok((await terminateConnections(pgdb)) > 0, "the gateway had connections to cut");
    for (let i = 0; i < 5; i++) assert.equal((await ask()).status, 200);
  });

  it("keeps balances when every gateway restarts, and a refill on one replica is what the other sees", async () => {
    const bucket = "restart";
    const first = await start(bucket, pgStore());
    assert.equal((await call(first, PEERS[0]!, "POST", "/v1/messages", { model: MODEL, max_tokens: 100, messages: [{ role: "user", content: "hi" }] })).status, 200);
    await waitFor(async () => (await localCharges(first, bucket)).n === 1, 5000, "the settlement");
    const spent = (await localCharges(first, bucket)).total;
    await first.close();
    started.splice(started.indexOf(first), 1);

    // New gateways, new SQLite files: the balance comes from PostgreSQL alone.
    const [a, b] = [await start(bucket, pgStore()), await start(bucket, pgStore())];
    const seen = async (h: Harness) => (await call(h, ADMIN, "GET", "/api/quotas")).body.buckets.find((x) => x.bucket === bucket);
    assert.equal((await seen(a))?.balance_nanos, capacity - spent);
    const refill = await call(a, ADMIN, "POST", "/api/quotas/refill", { bucket });
    assert.equal(refill.status, 200);
    assert.equal(refill.body.added_nanos, spent);
    assert.equal((await seen(b))?.balance_nanos, capacity, "the other replica sees the refill");
    const { rows } = await pgdb.pool.query("SELECT principal, amount_nanos::text AS amount FROM quota_refills WHERE bucket = $1", [bucket]);
    assert.deepEqual(rows, [{ principal: "admin@example.com", amount: String(spent) }]);
  });
});
