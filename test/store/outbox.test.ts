// The one outbox (store/outbox.ts): a database left by version 0006 with an item in each of the three old tables
// migrates into it and each item is then processed by its real consumer; two claimers on PostgreSQL never hold the same
// item (FOR UPDATE SKIP LOCKED) of any kind; a failing settlement backs off with jitter without holding up the others
// and ends as a dead letter; a check-run write given up on is a dead letter that new activity replaces.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { Migrator } from "kysely";
import { HooksConfig } from "../../gateway/config/hooks.js";
import { CheckRunSync, GitHubError, type GitHubClient } from "../../gateway/github/checks.js";
import { type PendingSettlement, SettlementQueue } from "../../gateway/quotas/settlements.js";
import { connectStore, openStore } from "../../gateway/store/db.js";
import { applyStoreWrite } from "../../gateway/store/log-writes.js";
import { migrations } from "../../gateway/store/migrate.js";
import { Outbox, type OutboxKind, backoffMs } from "../../gateway/store/outbox.js";
import { SessionStore } from "../../gateway/store/sessions.js";
import { HookDeliverer } from "../../gateway/webhooks/deliver.js";
import { Receiver } from "../helpers/hook-receiver.js";
import { createTestDatabase } from "../helpers/postgres.js";
import { all, openTestStore, testDatabaseConfig } from "../helpers/store.js";
import { waitFor } from "../helpers/wait.js";

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const KINDS: readonly OutboxKind[] = ["webhook", "check_run", "settlement"];
const T0 = 1_700_000_000_000;

const sessionValues = (id: string, at: number) => ({
  id,
  node_id: "nRUNNER",
  repository: "acme/api",
  repository_id: "812345678",
  owner: "acme",
  owner_id: "7",
  pr_number: null,
  head_sha: "1".repeat(40),
  sha: "2".repeat(40),
  run_id: "9",
  run_attempt: "1",
  workflow: "ci",
  job: "test",
  actor: "alice",
  event: "push",
  ref: "refs/heads/main",
  started_at: at,
  token_hash: null,
  token_expires_at: null,
});

function recordingGitHub() {
  const calls: string[] = [];
  const state = { down: false };
  const client: GitHubClient = {
    async createCheckRun(_repo, body) {
      if (state.down) throw new GitHubError("GitHub: 503", 503);
      calls.push(`create ${body.external_id ?? ""}`);
      return { id: 99, url: "" };
    },
    async updateCheckRun(_repo, id) {
      if (state.down) throw new GitHubError("GitHub: 503", 503);
      calls.push(`update ${id}`);
    },
    getPull: async () => null,
  };
  return { client, calls, state };
}

function checkSync(store: SessionStore, github: GitHubClient, now: () => number): CheckRunSync {
  return new CheckRunSync({
    store,
    github: () => github,
    activity: async () => new Map(),
    view: () => ({ marker: "", title: "t", summary: "s", flagged: false }),
    settings: () => ({ name: "AI usage", updateIntervalMs: 0, idleTimeoutMs: 30 * 86_400_000, conclusionWhenFlagged: "failure", detailsUrl: () => undefined }),
    now,
    random: () => 0.5,
  });
}

describe("one outbox", () => {
  const cleanup: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  it("a database made by 0006 with an item in each old table migrates forward and every item is processed", async () => {
    const { config, drop } = await testDatabaseConfig();
    cleanup.push(drop);
    const location = { type: "sqlite", pool_size: 4, path: "", ...config } as Parameters<typeof connectStore>[0];
    const old = connectStore(location);
    const upTo0006 = Object.fromEntries(Object.entries(migrations(old.engine)).filter(([name]) => name <= "0006-export"));
    const result = await new Migrator({ db: old.db, provider: { getMigrations: async () => upTo0006 } }).migrateToLatest();
    assert.equal(result.error, undefined);
    const s = sessionValues("ses_old", T0);
    await all(old, `INSERT INTO ci_sessions (${Object.keys(s).join(", ")}) VALUES (${Object.keys(s).map(() => "?").join(", ")})`, ...Object.values(s));
    await all(old, "INSERT INTO ci_check_pending (session_id, due_at, since, attempts, last_error) VALUES ('ses_old', ?, ?, 2, 'GitHub: 503')", T0, T0);
    await all(old, "INSERT INTO hook_outbox (msg_id, hook, event, payload, created_at, due_at, attempts) VALUES ('msg_old', 'audit', 'entire_request', '{\"event\":\"entire_request\"}', ?, ?, 1)", T0, T0);
    const lines = [{ line: [{ bucket: "team", quota: "daily" }], portions: [5] }];
    await all(old, "INSERT INTO quota_settlements_pending (request_id, lines, charged_nanos, at_reservation, ts) VALUES ('req_old', ?, 3000, 1, ?)", JSON.stringify(lines), T0);
    await old.close();

    const store = await openStore(location);
    cleanup.push(() => store.close());
    assert.deepEqual(await all(store, "SELECT kind, key, attempts FROM outbox ORDER BY kind"), [
      { kind: "check_run", key: "ses_old", attempts: 2 },
      { kind: "settlement", key: "req_old", attempts: 0 },
      { kind: "webhook", key: "msg_old", attempts: 1 },
    ]);

    // The webhook message goes to its hook, with its id and attempt count carried over.
    const rx = new Receiver();
    await rx.start();
    cleanup.push(() => rx.stop());
    const hooks = HooksConfig.parse({ audit: { url: `http://127.0.0.1:${rx.port}/audit`, secret: SECRET } });
    const deliverer = new HookDeliverer({ outbox: new Outbox(store, "r1"), hooks: () => hooks, fetch, userAgent: "test", onError: () => undefined });
    deliverer.start();
    const got = await waitFor(async () => rx.on("/audit").find((r) => r.headers["webhook-id"] === "msg_old"), 5000, "the migrated webhook message");
    assert.equal(got.headers["webhook-attempt"], "2");
    assert.equal(got.body, '{"event":"entire_request"}');
    await deliverer.stop();

    // The check-run write is claimed and written.
    const gh = recordingGitHub();
    await checkSync(new SessionStore(store, "r1"), gh.client, () => T0 + 1000).tick();
    assert.deepEqual(gh.calls, ["create ses_old"]);

    // The settlement is applied with what it recorded, and its charge written locally.
    const settled: PendingSettlement[] = [];
    const queue = new SettlementQueue({
      store,
      settle: async (p) => (settled.push(p), [{ bucket: "team", quota: "daily", ts: T0, reserved: 5, charged: 3000 }]),
      settled: () => undefined,
      onError: () => undefined,
    });
    await queue.drain();
    assert.deepEqual(settled, [{ requestId: "req_old", lines, charged: 3000, atReservation: true }]);
    assert.deepEqual(await all(store, "SELECT request_id, charged_nanos, at_reservation FROM quota_charges"), [{ request_id: "req_old", charged_nanos: 3000, at_reservation: 1 }]);

    assert.deepEqual(await all(store, "SELECT kind, key FROM outbox"), [], "every item done");
  });

  it("two claimers on PostgreSQL never hold the same item, of any kind (FOR UPDATE SKIP LOCKED)", async () => {
    const pg = await createTestDatabase();
    cleanup.push(() => pg.drop());
    const location = { type: "postgres" as const, url: pg.url, pool_size: 4, path: "" };
    const first = await openStore(location);
    const second = connectStore(location);
    cleanup.push(() => first.close(), () => second.close());
    const a = new Outbox(first, "replica-a");
    const b = new Outbox(second, "replica-b");
    const N = 120;
    for (const kind of KINDS) {
      await a.enqueue(kind, Array.from({ length: N }, (_, i) => ({ key: `${kind}_${i}`, payload: "{}" })), T0);
      const claimed: { by: string; key: string }[] = [];
      for (let round = 0; round < 50 && claimed.length < N; round++) {
        const batches = await Promise.all([a, b, a, b].map((o, i) => o.claim(kind, T0, 5, 60_000).then((items) => items.map((x) => ({ by: i % 2 ? "b" : "a", key: x.key })))));
        claimed.push(...batches.flat());
      }
      const keys = claimed.map((c) => c.key);
      assert.equal(new Set(keys).size, keys.length, `${kind}: an item was claimed twice`);
      assert.equal(keys.length, N, `${kind}: every item claimed once`);
      assert.ok(claimed.some((c) => c.by === "a") && claimed.some((c) => c.by === "b"), `${kind}: both claimers got items`);
      // Only the claimer finishes an item.
      const ofA = claimed.find((c) => c.by === "a")!.key;
      assert.equal(await b.done(kind, ofA), false);
      assert.equal(await a.done(kind, ofA), true);
      // A claim given back is free for the other replica at once.
      const ofB = claimed.find((c) => c.by === "b")!.key;
      await a.release(kind, ofB);
      assert.deepEqual(await a.claim(kind, T0, 5, 60_000), [], "only its claimer releases an item");
      await b.release(kind, ofB);
      assert.deepEqual((await a.claim(kind, T0, 5, 60_000)).map((x) => x.key), [ofB]);
    }
    // One key (a session's check run) raced by both: one writer.
    await a.enqueue("check_run", Array.from({ length: 20 }, (_, i) => ({ key: `race_${i}` })), T0);
    for (let i = 0; i < 20; i++) {
      const won = await Promise.all([a.claimKey("check_run", `race_${i}`, T0, 60_000), b.claimKey("check_run", `race_${i}`, T0, 60_000)]);
      assert.equal(won.filter(Boolean).length, 1, `race_${i}: ${JSON.stringify(won)}`);
    }
  });

  it("a failing settlement backs off with jitter, does not hold up the others, and ends as a dead letter", async () => {
    const store = await openTestStore();
    cleanup.push(() => store.dispose());
    let t = T0;
    let rnd = 0;
    const attempts = new Map<string, number>();
    const errors: string[] = [];
    const queue = new SettlementQueue({
      store,
      owner: "r1",
      settle: async (p) => {
        attempts.set(p.requestId, (attempts.get(p.requestId) ?? 0) + 1);
        if (p.requestId === "req_bad") throw new Error("no such bucket store");
        return [{ bucket: "team", quota: "daily", ts: t, reserved: 5, charged: p.charged }];
      },
      settled: () => undefined,
      onError: (_err, context) => errors.push(context),
      retryMs: 1000,
      maxRetryMs: 8000,
      giveUpMs: 60_000,
      now: () => t,
      random: () => rnd,
    });
    // As the request log writes them: in the row's transaction (the entries' time is the wall clock's).
    const write = async (requestId: string) => {
      const w = queue.entry([], 100, false).rows?.();
      assert.ok(w?.kind === "quota_pending");
      await store.db.transaction().execute((trx) => applyStoreWrite(trx, requestId, { ...w, ts: t }));
    };
    const view = new Outbox(store, "observer");
    const bad = async () => (await view.get("settlement", "req_bad"))!;
    await write("req_bad");
    await write("req_ok1");
    await queue.drain();
    assert.equal(attempts.get("req_ok1"), 1, "the entry after the failing one is applied");
    assert.equal(await queue.pending(), 1);
    const delays = [(await bad()).dueAt - t];
    // The failing entry waits; a new entry goes through meanwhile.
    await write("req_ok2");
    await queue.drain();
    assert.equal(attempts.get("req_ok2"), 1);
    assert.equal(attempts.get("req_bad"), 1, "not retried before its time");
    for (const r of [1, 0.5, 0, 1]) {
      rnd = r;
      t = (await bad()).dueAt;
      await queue.drain();
      delays.push((await bad()).dueAt - t);
    }
    // 1 s doubling to the 8 s cap, each ±20 % by the random draw (0 → 0.8, 0.5 → 1, 1 → 1.2).
    assert.deepEqual(delays, [800, 2400, 4000, 6400, 9600]);
    assert.deepEqual(delays, [0, 1, 0.5, 0, 1].map((r, n) => backoffMs(n, { baseMs: 1000, maxMs: 8000 }, () => r)));
    assert.equal((await bad()).attempts, 5);
    assert.equal((await bad()).lastError, "no such bucket store");

    // Past the give-up window: a dead letter, not retried, not dropped.
    t = T0 + 60_000;
    await queue.drain();
    const dead = await view.deadLetters();
    assert.deepEqual(dead.map((d) => [d.kind, d.key, d.attempts, d.last_error]), [["settlement", "req_bad", 6, "no such bucket store"]]);
    assert.equal(await queue.pending(), 0);
    t += 86_400_000;
    await queue.drain();
    assert.equal(attempts.get("req_bad"), 6);
    assert.ok(errors.some((e) => /req_bad: giving up after 6 attempts \(dead letter\)/.test(e)), errors.join("\n"));
    // Retention purges dead letters older than its cutoff, of every kind.
    assert.equal(await view.purgeDead(T0 + 60_000), 0);
    assert.equal(await view.purgeDead(T0 + 60_001), 1);
    assert.deepEqual(await view.deadLetters(), []);
  });

  it("a check-run write failing for 3 days becomes a dead letter, and new activity asks for a new write", async () => {
    const store = await openTestStore();
    cleanup.push(() => store.dispose());
    let t = T0;
    const sessions = new SessionStore(store, "r1");
    const gh = recordingGitHub();
    const sync = checkSync(sessions, gh.client, () => t);
    await sessions.insert(sessionValues("ses_1", T0));
    await sync.tick();
    assert.deepEqual(gh.calls, ["create ses_1"]);
    gh.state.down = true;
    await sessions.finish("ses_1", "finished", t);
    await sync.tick();
    assert.equal((await sessions.pending("ses_1"))?.attempts, 1);
    t += 3 * 86_400_000 + 1;
    await sync.tick();
    const dead = await new Outbox(store, "observer").deadLetters();
    assert.deepEqual(dead.map((d) => [d.kind, d.key, d.attempts, d.last_error]), [["check_run", "ses_1", 2, "GitHub: 503"]]);
    await sync.tick();
    assert.equal((await sessions.pending("ses_1"))?.attempts, 2, "a dead letter is not retried");

    gh.state.down = false;
    await sessions.markPending("ses_1", t, t);
    assert.equal((await sessions.pending("ses_1"))?.attempts, 0, "replaced by a new write");
    await sync.tick();
    assert.deepEqual(gh.calls, ["create ses_1", "update 99"]);
    assert.equal(await sessions.pending("ses_1"), null);
  });
});
