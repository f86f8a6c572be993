import assert from "node:assert/strict";
import { after, beforeEach, describe, it } from "node:test";
import { CheckRunSync, type CheckRunWrite, type GitHubClient, GitHubError } from "../../gateway/github/checks.js";
import { SessionService } from "../../gateway/github/sessions.js";
import { type NewSession, SessionStore } from "../../gateway/store/sessions.js";
import { type TestStore, openTestStore } from "../helpers/store.js";

interface Call {
  readonly kind: "create" | "update";
  readonly at: number;
  readonly body: CheckRunWrite;
}

/** A GitHub that records calls at the fake clock's time and fails while `down`. */
function recordingGitHub(clock: { t: number }) {
  const calls: Call[] = [];
  const state = { down: false };
  const client: GitHubClient = {
    async createCheckRun(_repo, body) {
      if (state.down) throw new GitHubError("GitHub: 503", 503);
      calls.push({ kind: "create", at: clock.t, body });
      return { id: 99, url: "https://github.com/acme/api/runs/99" };
    },
    async updateCheckRun(_repo, _id, body) {
      if (state.down) throw new GitHubError("GitHub: 503", 503);
      calls.push({ kind: "update", at: clock.t, body });
    },
    async getPull() {
      return null;
    },
  };
  return { client, calls, state };
}

const session = (id: string, at: number): NewSession => ({
  id,
  node_id: "nRUNNER",
  repository: "acme/api",
  repository_id: "812345678",
  owner: "acme",
  owner_id: "4567890",
  pr_number: 42,
  head_sha: "1".repeat(40),
  sha: "2".repeat(40),
  run_id: "1",
  run_attempt: "1",
  workflow: "AI",
  job: null,
  actor: "octocat",
  event: "pull_request",
  ref: "refs/pull/42/merge",
  started_at: at,
  token_hash: null,
  token_expires_at: null,
});

describe("check-run sync loop", () => {
  let clock: { t: number };
  let store: SessionStore;
  let gh: ReturnType<typeof recordingGitHub>;
  let activity: Map<string, { marker: string; lastAt: number }>;
  let flagged: boolean;
  let sync: CheckRunSync;
  const errors: string[] = [];

  const stores: TestStore[] = [];
  let db: TestStore;
  after(() => Promise.all(stores.map((s) => s.dispose())));

  beforeEach(async () => {
    clock = { t: 1_000_000 };
    db = await openTestStore();
    stores.push(db);
    store = new SessionStore(db, "replica-a");
    gh = recordingGitHub(clock);
    activity = new Map();
    flagged = false;
    sync = new CheckRunSync({
      store,
      github: () => gh.client,
      activity: async (ids) => new Map(ids.flatMap((id) => (activity.has(id) ? [[id, activity.get(id)!] as const] : []))),
      view: (s) => ({ marker: activity.get(s.id)?.marker ?? "", title: `t${activity.get(s.id)?.marker ?? ""}`, summary: "s", flagged }),
      settings: () => ({ name: "AI usage", updateIntervalMs: 30_000, idleTimeoutMs: 3_600_000, conclusionWhenFlagged: "failure", detailsUrl: (id) => `https://gw/s/${id}` }),
      now: () => clock.t,
      random: () => 0.5,
      onError: (_err, context) => errors.push(context),
    });
  });

  const bump = (id: string, n: number) => activity.set(id, { marker: String(n), lastAt: clock.t });

  it("creates the check run in progress on the head sha at session start", async () => {
    await store.insert(session("s1", clock.t));
    await sync.flush("s1", 1000);
    assert.equal(gh.calls.length, 1);
    const create = gh.calls[0]!;
    assert.equal(create.kind, "create");
    assert.equal(create.body.head_sha, "1".repeat(40));
    assert.equal(create.body.status, "in_progress");
    assert.equal(create.body.details_url, "https://gw/s/s1");
    assert.equal((await store.get("s1"))?.check_run_id, 99);
    assert.equal(await store.pending("s1"), null);
  });

  it("updates at most once per interval while the session changes", async () => {
    await store.insert(session("s1", clock.t));
    await sync.flush("s1", 1000);
    for (let i = 1; i <= 20; i++) {
      clock.t += 5_000; // a request every 5 s for 100 s
      bump("s1", i);
      await sync.tick();
    }
    const updates = gh.calls.filter((c) => c.kind === "update");
    assert.ok(updates.length >= 3 && updates.length <= 4, `${updates.length} updates`);
    for (let i = 1; i < updates.length; i++) assert.ok(updates[i]!.at - updates[i - 1]!.at >= 30_000);
    // Nothing new: no more writes.
    clock.t += 120_000;
    await sync.tick();
    const last = gh.calls.filter((c) => c.kind === "update").length;
    clock.t += 120_000;
    await sync.tick();
    assert.equal(gh.calls.filter((c) => c.kind === "update").length, last);
  });

  it("completes at finish at once, with the flagged conclusion when configured", async () => {
    await store.insert(session("s1", clock.t));
    await sync.flush("s1", 1000);
    bump("s1", 1);
    flagged = true;
    clock.t += 1000;
    await store.finish("s1", "finished", clock.t);
    await sync.flush("s1", 1000);
    const last = gh.calls.at(-1)!;
    assert.equal(last.kind, "update");
    assert.equal(last.body.conclusion, "failure");
    assert.equal(last.body.completed_at, new Date(clock.t).toISOString());
    assert.equal((await store.get("s1"))?.check_completed, 1);
  });

  it("a sync pass during finish never completes the check run before the job's last requests are written", async () => {
    await store.insert(session("s1", clock.t));
    await sync.flush("s1", 1000);
    const service = new SessionService({
      config: () => undefined,
      store,
      github: () => gh.client,
      sync,
      // The log writer is slow (a loaded host): the background pass runs while the rows are still queued.
      flushLog: async () => {
        await sync.tick();
        bump("s1", 1);
        flagged = true; // the queued row held the blocked call
      },
    });
    const who = { principal: "tag:ci", login: null, nodeId: "nRUNNER", nodeName: "runner", tags: ["tag:ci"], groups: [], capMap: {}, addr: "100.64.0.7:40000" };
    const done = await service.finish("s1", who, false);
    assert.ok(done.ok);
    const completions = gh.calls.filter((c) => c.body.conclusion !== undefined);
    assert.deepEqual(completions.map((c) => c.body.conclusion), ["failure"]);
  });

  it("reflects requests logged after finish in the completed check run", async () => {
    await store.insert(session("s1", clock.t));
    await sync.flush("s1", 1000);
    await store.finish("s1", "finished", clock.t);
    await sync.flush("s1", 1000);
    assert.equal(gh.calls.at(-1)?.body.conclusion, "neutral");
    bump("s1", 1); // a stream still open at finish is logged afterwards, with a blocked call
    flagged = true;
    clock.t += 30_000;
    await sync.tick();
    const last = gh.calls.at(-1)!;
    assert.equal(last.body.output?.title, "t1");
    assert.equal(last.body.conclusion, "failure");
  });

  it("keeps a durable pending write through a GitHub outage, backs off, and writes the final state when GitHub is back", async () => {
    await store.insert(session("s1", clock.t));
    await sync.flush("s1", 1000);
    gh.state.down = true;
    bump("s1", 1);
    await store.finish("s1", "finished", clock.t);
    await sync.flush("s1", 1000);
    const p1 = (await store.pending("s1"));
    assert.ok(p1, "pending record kept");
    assert.equal(p1.attempts, 1);
    assert.equal(p1.dueAt, clock.t + 5_000);
    assert.match(p1.lastError ?? "", /503/);
    // Not retried before its time, then with a doubled delay.
    clock.t += 4_000;
    await sync.tick();
    assert.equal((await store.pending("s1"))?.attempts, 1);
    clock.t += 1_000;
    await sync.tick();
    assert.equal((await store.pending("s1"))?.attempts, 2);
    assert.equal((await store.pending("s1"))?.dueAt, clock.t + 10_000);
    // GitHub is back: the next due tick writes the completed state once.
    gh.state.down = false;
    clock.t += 10_000;
    await sync.tick();
    assert.equal(await store.pending("s1"), null);
    const finals = gh.calls.filter((c) => c.body.conclusion);
    assert.equal(finals.length, 1);
    assert.equal(finals[0]!.body.conclusion, "neutral");
    await sync.tick();
    assert.equal(gh.calls.filter((c) => c.body.conclusion).length, 1, "written once");
    assert.ok(errors.some((e) => /attempt 1, next in 5s/.test(e)));
  });

  it("creates the check run later when GitHub was down at session start", async () => {
    gh.state.down = true;
    await store.insert(session("s1", clock.t));
    await sync.flush("s1", 1000);
    assert.equal((await store.get("s1"))?.check_run_id, null);
    gh.state.down = false;
    clock.t += 5_000;
    await sync.tick();
    assert.equal((await store.get("s1"))?.check_run_id, 99);
    assert.equal(gh.calls.filter((c) => c.kind === "create").length, 1);
  });

  it("closes a session idle past the timeout and completes its check run", async () => {
    await store.insert(session("s1", clock.t));
    await sync.flush("s1", 1000);
    bump("s1", 1);
    clock.t += 3_600_000 - 1;
    await sync.tick();
    assert.equal((await store.get("s1"))?.finished_at, null);
    clock.t += 1;
    await sync.tick();
    const s = (await store.get("s1"));
    assert.equal(s?.finish_reason, "idle");
    assert.equal(gh.calls.at(-1)?.body.conclusion, "neutral");
    // Still attributable: the job may only have been slow. A later request updates the completed run.
    assert.equal((await store.forNode("nRUNNER"))?.id, "s1");
    clock.t += 60_000;
    bump("s1", 2);
    await sync.tick();
    clock.t += 30_000;
    await sync.tick();
    assert.equal(gh.calls.at(-1)?.body.output?.title, "t2");
  });

  it("does nothing without a GitHub App", async () => {
    const quiet = new CheckRunSync({
      store,
      github: () => null,
      activity: async () => new Map(),
      view: () => ({ marker: "", title: "", summary: "", flagged: false }),
      settings: () => ({ name: "x", updateIntervalMs: 1, idleTimeoutMs: 10, conclusionWhenFlagged: "neutral", detailsUrl: () => undefined }),
      now: () => clock.t,
    });
    await store.insert(session("s1", clock.t));
    await quiet.flush("s1", 100);
    clock.t += 100;
    await quiet.tick();
    assert.equal(await store.pending("s1"), null);
    assert.equal((await store.get("s1"))?.finish_reason, "idle", "idle sessions still close");
  });

  it("two replicas on one store: each check-run write has one writer, and a dead replica's claim lapses", async () => {
    // A GitHub that is slow enough for the replicas to overlap, and counts writers in flight per check run.
    let inFlight = 0;
    let overlapped = 0;
    const writes: string[] = [];
    const slow: GitHubClient = {
      async createCheckRun(_repo, body) {
        if (++inFlight > 1) overlapped++;
        await new Promise((r) => setTimeout(r, 30));
        inFlight--;
        writes.push(`create ${body.output?.title}`);
        return { id: 7, url: "" };
      },
      async updateCheckRun(_repo, _id, body) {
        if (++inFlight > 1) overlapped++;
        await new Promise((r) => setTimeout(r, 30));
        inFlight--;
        writes.push(`update ${body.output?.title}`);
      },
      getPull: async () => null,
    };
    const replica = (owner: string) =>
      new CheckRunSync({
        store: new SessionStore(db, owner),
        github: () => slow,
        activity: async (ids) => new Map(ids.flatMap((id) => (activity.has(id) ? [[id, activity.get(id)!] as const] : []))),
        view: (s) => ({ marker: activity.get(s.id)?.marker ?? "", title: `t${activity.get(s.id)?.marker ?? ""}`, summary: "s", flagged: false }),
        settings: () => ({ name: "AI usage", updateIntervalMs: 0, idleTimeoutMs: 3_600_000, conclusionWhenFlagged: "failure", detailsUrl: () => undefined }),
        now: () => clock.t,
      });
    const a = replica("replica-a");
    const b = replica("replica-b");
    await store.insert(session("s1", clock.t));
    bump("s1", 1);
    await Promise.all([a.flush("s1", 2000), b.flush("s1", 2000), a.tick(), b.tick()]);
    assert.equal(overlapped, 0, "never two writers on one check run");
    assert.deepEqual(writes, ["create t1"], "written once");
    await store.finish("s1", "finished", clock.t);
    await Promise.all([a.flush("s1", 2000), b.flush("s1", 2000)]);
    assert.equal(overlapped, 0);
    assert.deepEqual(writes, ["create t1", "update t1"]);
    assert.equal((await store.get("s1"))?.check_completed, 1);

    // A replica that claimed a write and died: the others wait out its lease, then write.
    await store.expedite("s1", clock.t);
    const dead = new SessionStore(db, "replica-dead");
    assert.equal((await dead.claimDue(clock.t, 60_000)).length, 1);
    await b.tick();
    assert.deepEqual(writes, ["create t1", "update t1"], "the claim holds");
    clock.t += 60_001;
    await b.tick();
    assert.deepEqual(writes, ["create t1", "update t1", "update t1"], "written once the lease lapsed");
  });
});
