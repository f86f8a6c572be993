// The request log's writer off the request path (issue 14): a worker thread with its own SQLite connection that
// loses nothing when it dies, and a gateway that refuses new requests (503) rather than serve them unlogged.
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { Worker } from "node:worker_threads";
import { QuotaDefinition } from "../../gateway/config/quotas.js";
import { applyLogWrite } from "../../gateway/log-writer/apply.js";
import { WorkerSink, startWorker } from "../../gateway/log-writer/sink.js";
import type { Charge } from "../../gateway/quotas/bucket-store.js";
import { QuotaStore } from "../../gateway/quotas/store.js";
import { type Store, openStore } from "../../gateway/store/db.js";
import { RequestLog, type RequestRow } from "../../gateway/store/requests.js";
import { type Harness, startHarness } from "../helpers/gateway.js";
import { TEST_ENGINE, all, one } from "../helpers/store.js";
import { waitFor } from "../helpers/wait.js";

const row = (id: string): RequestRow => ({
  id, ts: 1, principal: "p", login: null, node_id: null, node_name: null, tags: [], session_id: null, client_session: null,
  user_agent: null, provider: "anthropic", model: "m", route: "anthropic.messages", method: "POST", path: "/v1/messages",
  status: 200, duration_ms: 1, ttfb_ms: 1, streamed: false, input_tokens: 1, cache_read_tokens: 0, cache_write_tokens: 0,
  output_tokens: 1, reasoning_tokens: 0, cost_nanos: 10, tool_calls: 0, denial: null, error: null, flags: [],
});

describe("the request log's writer thread (SQLite)", { skip: TEST_ENGINE !== "sqlite" }, () => {
  const closing: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const close of closing.reverse()) await close();
  });

  async function open(intervalMs: number): Promise<{ store: Store; log: RequestLog; sink: WorkerSink; workers: Worker[] }> {
    const path = join(mkdtempSync(join(tmpdir(), "keyless-writer-")), "k.db");
    const store = await openStore({ type: "sqlite", path, pool_size: 1 });
    const workers: Worker[] = [];
    const errors: unknown[] = [];
    const sink = new WorkerSink({ path, intervalMs, queueForExport: false, restartMs: 20, onError: (e) => errors.push(e), spawn: (data) => workers[workers.push(startWorker(data)) - 1]! });
    const log = new RequestLog(store, { sink, apply: applyLogWrite });
    closing.push(() => store.close(), () => log.close());
    return { store, log, sink, workers };
  }

  it("writes rows with what they carry, in order, and runs their callbacks once committed", async () => {
    const { store, log } = await open(5);
    const committed: string[] = [];
    for (const id of ["r1", "r2", "r3"]) {
      log.record(row(id), null, [
        { rows: () => ({ kind: "attempts", rows: [{ n: 0, provider: "anthropic", model: "m", key_name: null, outcome: "failed", status: 529, reason: "overloaded", duration_ms: 1 }] }), committed: () => void committed.push(id) },
      ]);
    }
    await log.flush();
    assert.deepEqual(committed, ["r1", "r2", "r3"]);
    assert.deepEqual(await all(store, "SELECT request_id FROM request_attempts ORDER BY request_id"), [{ request_id: "r1" }, { request_id: "r2" }, { request_id: "r3" }]);
    assert.equal(log.pending, 0);
  });

  it("a writer that dies loses nothing: the log refuses meanwhile, and its replacement writes every entry once", async () => {
    // Entries wait a minute to be written: all five are still held when the worker dies.
    const { store, log, sink, workers } = await open(60_000);
    const attempt = { n: 0, provider: "anthropic", model: "m", key_name: null, outcome: "failed", status: 529, reason: "overloaded", duration_ms: 1 };
    for (let i = 1; i <= 5; i++) log.record(row(`d${i}`), null, [{ rows: () => ({ kind: "attempts", rows: [attempt] }) }]);
    assert.equal(log.pending, 5);
    assert.ok(log.accepting);
    // As if the dying worker had committed d1 and died before saying so: its replacement must not write d1's rows again.
    await store.db.insertInto("requests").values({ ...row("d1"), tags: "[]", flags: "[]", streamed: 0 }).execute();
    await workers[0]!.terminate();
    assert.equal(log.writerUp, false);
    assert.equal(log.accepting, false, "no new request is served while nothing can log it");
    const charge: Charge = { bucket: "b", quota: "b", def: QuotaDefinition.parse({ capacity: "$1.00", rate: "$1.00/day" }) };
    await assert.rejects(sink.reserve([[charge]], 10), (err: Error) => err.name === "BucketStoreUnavailable");
    await waitFor(() => log.writerUp, 10_000, "a new writer");
    assert.equal(workers.length, 2);
    await log.flush();
    assert.deepEqual(await one(store, "SELECT COUNT(*) AS n FROM requests"), { n: 5 });
    assert.deepEqual((await all<{ request_id: string }>(store, "SELECT request_id FROM request_attempts ORDER BY request_id")).map((r) => r.request_id), ["d2", "d3", "d4", "d5"]);
    assert.equal(log.pending, 0);
    assert.ok(log.accepting);
  });

  it("reserves budgets on the writer's connection, one reservation at a time", async () => {
    const { store, sink } = await open(5);
    const charge: Charge = { bucket: "team", quota: "team", def: QuotaDefinition.parse({ capacity: "$1.00", rate: "$0.00/day" }) };
    const quotas = new QuotaStore(store, Date.now, (lines, nanos) => sink.reserve(lines, nanos));
    // Ten concurrent reservations of $0.30 against $1.00: three fit.
    const results = await Promise.all(Array.from({ length: 10 }, () => quotas.reserve([[charge]], 300_000_000)));
    assert.equal(results.filter((r) => r.ok).length, 3);
    assert.equal((await quotas.peek(charge)).balance, 100_000_000);
  });
});

describe("a request log that cannot take another row", () => {
  let h: Harness;
  after(() => h?.close());

  it("refuses new requests with a 503 in the provider's shape, says so in /metrics, and serves again once written", async () => {
    // Rows wait a minute to be written, and the queue holds one: the second request finds it full.
    h = await startHarness({
      logIntervalMs: 60_000,
      logQueueLimit: 1,
      peers: { "127.0.0.7": { login: "admin@example.com" } },
      config: () => ({ grants: [{ src: ["admin@example.com"], app: { "keyless.dev/cap/gateway": [{ role: "admin", models: "**" }] } }] }),
    });
    const peer = h.fetchFrom("127.0.0.7");
    const post = () =>
      peer(`${h.gateway.url}/v1/messages`, {
        method: "POST",
        headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
        body: JSON.stringify({ model: "claude-sonnet-4-6", max_tokens: 16, messages: [{ role: "user", content: "hi" }] }),
      });
    const first = await post();
    assert.equal(first.status, 200);
    await first.arrayBuffer();
    const refused = await post();
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get("retry-after"), "1");
    const body = (await refused.json()) as { type: string; error: { type: string; message: string } };
    assert.equal(body.type, "error");
    assert.equal(body.error.type, "overloaded_error");
    assert.match(body.error.message, /request log is behind/);
    const metrics = await (await peer(`${h.gateway.url}/metrics`)).text();
    assert.match(metrics, /^keyless_request_log_pending 1$/m);
    assert.match(metrics, /^keyless_requests_refused_unlogged_total 1$/m);
    assert.match(metrics, /^keyless_request_log_writer_up 1$/m);
    await h.gateway.requestLog.flush();
    const again = await post();
    assert.equal(again.status, 200);
    await again.arrayBuffer();
    await h.gateway.requestLog.flush();
    assert.deepEqual((await all<{ status: number }>(h.gateway.store, "SELECT status FROM requests ORDER BY ts")).map((r) => r.status), [200, 200], "the refusal is counted, not logged");
  });
});
