// CI sessions end to end: a real gateway (fake tailscaled, fake provider), a fake OIDC issuer and a fake GitHub.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { CreateSessionResponse, PrSummary, SessionSummary } from "../../src/ci-session.js";
import { startFakeGitHub, type FakeGitHub } from "../fakes/github.js";
import { HEAD_SHA, eventClaims, startOidcIssuer, type Claims, type FakeOidcIssuer } from "../fakes/oidc-issuer.js";
import { type Harness, startHarness } from "../helpers/gateway.js";
import { waitFor } from "../helpers/wait.js";
import { appKeyPair } from "./app-key.js";

const RUNNER = "127.0.0.3"; // tagged for acme/api
const RUNNER2 = "127.0.0.5"; // tagged for acme/api, another job
const RUNNER3 = "127.0.0.6"; // tagged for acme/api, a third job
const WRONG_TAGS = "127.0.0.4";
const ADMIN = "127.0.0.2";
const REVIEWER = "127.0.0.8"; // a person with role user
const CI_TAGS = ["tag:ci", "tag:ci-acme-api"];

describe("CI sessions through the gateway", () => {
  let issuer: FakeOidcIssuer;
  let gh: FakeGitHub;
  let h: Harness;

  before(async () => {
    issuer = await startOidcIssuer();
    const keys = appKeyPair();
    gh = await startFakeGitHub({
      appId: "123",
      publicKeyPem: keys.publicKey,
      repos: [{ owner: "acme", name: "api", id: 812345678, installation: 77, pulls: [{ number: 42, headSha: HEAD_SHA }, { number: 43, headSha: HEAD_SHA }] }],
    });
    h = await startHarness({
      peers: {
        [RUNNER]: { tags: CI_TAGS, nodeId: "nRUNNER1", name: "github-runner-1.tail1234.ts.net." },
        [RUNNER2]: { tags: CI_TAGS, nodeId: "nRUNNER2" },
        [RUNNER3]: { tags: CI_TAGS, nodeId: "nRUNNER3" },
        [WRONG_TAGS]: { tags: ["tag:ci", "tag:ci-acme-web"], nodeId: "nWEB", name: "github-runner-9.tail1234.ts.net." },
        [ADMIN]: { login: "alice@example.com", nodeId: "nALICE" },
        [REVIEWER]: { login: "rita@example.com", nodeId: "nRITA" },
      },
      config: (upstreamUrl) => ({
        providers: {
          anthropic: { type: "anthropic", baseurl: upstreamUrl, apikey: "sk-ant-CANARY-anthropic-0123456789abcdef", models: ["claude-*"] },
        },
        grants: [
          { src: ["*"], app: { "keyless.dev/cap/gateway": [{ role: "user", models: "**" }] } },
          { src: ["alice@example.com"], app: { "keyless.dev/cap/gateway": [{ role: "admin" }] } },
        ],
        github: {
          oidc: { issuer: issuer.issuer, audience: "keyless" },
          api_url: gh.url,
          app: { id: "123", private_key: keys.privateKey },
          public_url: "https://ai.tail1234.ts.net",
          checks: { update_interval: "100ms" },
          repos: { "acme/api": { tags: ["tag:ci-acme-api"], repository_id: "812345678" } },
        },
      }),
    });
  });
  after(async () => {
    await h.close();
    await gh.close();
    await issuer.close();
  });

  const token = (event: Parameters<typeof eventClaims>[0], over: Claims = {}, opts = {}) =>
    issuer.mint({ ...eventClaims(event), ...over }, { audience: "keyless", ...opts });
  const call = (from: string, path: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}) =>
    h.fetchFrom(from)(`${h.gateway.url}${path}`, {
      method: init.method ?? (init.body === undefined ? "GET" : "POST"),
      headers: { "content-type": "application/json", ...init.headers },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    });
  const start = async (from: string, body: Record<string, unknown>) => {
    const res = await call(from, "/v1/ci/sessions", { body });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const errorOf = (body: Record<string, unknown>) => body.error as { code: string; message: string };

  let sessionId = "";
  let secondRun = 0;

  it("starts a pull_request session bound to the node, with the PR from the signed ref and the check run on the PR head", async () => {
    const res = await start(RUNNER, { oidc_token: await token("pull_request"), head_sha: HEAD_SHA, job: "review" });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const { session, resumed } = CreateSessionResponse.parse(res.body);
    sessionId = session.id;
    assert.equal(resumed, false);
    assert.equal(session.node_id, "nRUNNER1");
    assert.equal(session.repository, "acme/api");
    assert.equal(session.repository_id, "812345678");
    assert.equal(session.pr_number, 42);
    assert.equal(session.head_sha, HEAD_SHA);
    assert.equal(session.event, "pull_request");
    assert.equal(session.job, "review");
    assert.ok(session.check_run_id !== null, "check run created before answering");
    const run = gh.checkRuns.get(session.check_run_id);
    assert.equal(run?.head_sha, HEAD_SHA, "on the PR head, not the merge commit");
    assert.equal(run?.status, "in_progress");
    assert.equal(run?.name, "AI usage");
    assert.equal(run?.external_id, session.id);
    assert.equal(run?.details_url, `https://ai.tail1234.ts.net/ci/sessions/${session.id}`);
  });

  it("resumes the open session when the same job asks again with a fresh token", async () => {
    const res = await start(RUNNER, { oidc_token: await token("pull_request"), head_sha: HEAD_SHA });
    assert.equal(res.status, 200);
    const body = CreateSessionResponse.parse(res.body);
    assert.equal(body.resumed, true);
    assert.equal(body.session.id, sessionId);
  });

  it("attributes the node's requests to its session, and leaves other callers' unattributed", async () => {
    const claude = (from: string) => new Anthropic({ apiKey: "-", baseURL: h.gateway.url, fetch: h.fetchFrom(from), maxRetries: 0 });
    const params = { model: "claude-sonnet-4-6", max_tokens: 100, messages: [{ role: "user" as const, content: "run the tests" }] };
    await claude(RUNNER).messages.create(params);
    await claude(RUNNER).messages.stream(params).finalMessage();
    await claude(ADMIN).messages.create(params);
    await h.gateway.requestLog.flush();
    const rows = (await h.gateway.requestLog.list({ limit: 10 }));
    const runnerRows = rows.filter((r) => r.node_id === "nRUNNER1");
    assert.equal(runnerRows.length, 2);
    assert.ok(runnerRows.every((r) => r.session_id === sessionId));
    assert.equal(rows.find((r) => r.node_id === "nALICE")?.session_id, null);
  });

  it("updates the running check run with the session's usage", async () => {
    const session = (await (await call(RUNNER, `/v1/ci/sessions/${sessionId}/summary`)).json()) as SessionSummary;
    const run = await waitFor(async () => {
      const r = gh.checkRuns.get(session.session.check_run_id!);
      return (r?.output as { title?: string } | undefined)?.title?.includes("2 requests") && r;
    }, 3000, "check run update");
    assert.equal(run.status, "in_progress");
  });

  /** The session's rows in the request log: what every total must add up to. */
  const logged = async () => {
    const rows = (await h.gateway.requestLog.list({ session: sessionId, limit: 100 }));
    const sum = (f: (r: (typeof rows)[number]) => number) => rows.reduce((a, r) => a + f(r), 0);
    return { requests: rows.length, input: sum((r) => r.input_tokens), output: sum((r) => r.output_tokens), cost: sum((r) => r.cost_nanos ?? 0) };
  };

  it("serves the summary as JSON and as Markdown to the session's node", async () => {
    const json = SessionSummary.parse(await (await call(RUNNER, `/v1/ci/sessions/${sessionId}/summary`)).json());
    const expected = await logged();
    assert.equal(expected.requests, 2);
    assert.ok(expected.cost > 0 && expected.input > 0);
    assert.equal(json.totals.requests, 2);
    assert.equal(json.totals.input_tokens, expected.input);
    assert.equal(json.totals.output_tokens, expected.output);
    assert.equal(json.totals.cost_nanos, expected.cost);
    assert.deepEqual(json.by_model.map((m) => `${m.provider}/${m.model}:${m.requests}`), ["anthropic/claude-sonnet-4-6:2"]);
    const md = await call(RUNNER, `/v1/ci/sessions/${sessionId}/summary`, { headers: { accept: "text/markdown" } });
    assert.match(md.headers.get("content-type") ?? "", /^text\/markdown/);
    assert.equal(await md.text(), json.markdown);
    const viaQuery = await call(RUNNER, `/v1/ci/sessions/${sessionId}/summary?format=md`);
    assert.match(await viaQuery.text(), /\| anthropic\/claude-sonnet-4-6 \| 2 \|/);
  });

  it("serves the check run's details page to people on the tailnet, not to other CI jobs", async () => {
    const page = await call(REVIEWER, `/ci/sessions/${sessionId}`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
    assert.match(page.headers.get("content-security-policy") ?? "", /default-src 'none'/);
    const html = await page.text();
    assert.match(html, /<title>AI usage · acme\/api #42<\/title>/);
    assert.match(html, /<table>/);
    assert.match(html, /anthropic\/claude-sonnet-4-6/);
    assert.equal((await call(RUNNER2, `/ci/sessions/${sessionId}`)).status, 403);
    assert.equal((await call(RUNNER, `/ci/sessions/${sessionId}`)).status, 200, "its own job may");
  });

  it("refuses the summary and finish to another node", async () => {
    const res = await call(RUNNER2, `/v1/ci/sessions/${sessionId}/summary`);
    assert.equal(res.status, 403);
    assert.equal(errorOf((await res.json()) as Record<string, unknown>).code, "session_not_yours");
    const fin = await call(RUNNER2, `/v1/ci/sessions/${sessionId}/finish`, { method: "POST" });
    assert.equal(fin.status, 403);
  });

  it("finishes: the check run completes with the final body, valid against GitHub's schema", async () => {
    const res = await call(RUNNER, `/v1/ci/sessions/${sessionId}/finish`, { method: "POST" });
    assert.equal(res.status, 200);
    const { session } = (await res.json()) as { session: { finished_at: string | null; finish_reason: string; check_run_id: number } };
    assert.ok(session.finished_at);
    assert.equal(session.finish_reason, "finished");
    const run = gh.checkRuns.get(session.check_run_id)!;
    assert.equal(run.status, "completed");
    assert.equal(run.conclusion, "neutral");
    const output = run.output as { title: string; summary: string };
    const e = await logged();
    const dollars = (nanos: number, digits: number) => `$${(nanos / 1e9).toFixed(digits)}`;
    assert.equal(output.title, `${dollars(e.cost, 4)} · ${e.input + e.output} tokens · 2 requests`);
    const exact = `$0.${String(e.cost).padStart(9, "0").replace(/0+$/, "")}`;
    assert.ok(output.summary.includes(`| **Total** | 2 | ${e.input} | 0 | 0 | ${e.output} | **\\${exact}** |`), output.summary);
    assert.match(output.summary, /Finished at /);
    assert.deepEqual(gh.violations, []);
    assert.ok(gh.requests.every((r) => r.errors.length === 0));
  });

  it("answers the admin's session list and PR view, and refuses them to others", async () => {
    const list = (await (await call(ADMIN, "/api/sessions?repository=acme/api&pr=42")).json()) as { sessions: { id: string }[] };
    assert.deepEqual(list.sessions.map((s) => s.id), [sessionId]);
    const pr = PrSummary.parse(await (await call(ADMIN, "/api/prs/acme/api/42")).json());
    assert.equal(pr.totals.sessions, 1);
    assert.equal(pr.totals.requests, 2);
    assert.equal(pr.totals.cost_nanos, (await logged()).cost);
    const one = SessionSummary.parse(await (await call(ADMIN, `/api/sessions/${sessionId}`)).json());
    assert.equal(one.session.id, sessionId);
    assert.equal(one.totals.requests, 2);
    const open = (await (await call(ADMIN, "/api/sessions?open=true")).json()) as { sessions: { id: string }[] };
    assert.ok(!open.sessions.some((s) => s.id === sessionId), "a finished session is not open");
    assert.equal((await call(ADMIN, "/api/sessions?pr=x")).status, 400);
    assert.equal((await call(RUNNER, "/api/sessions")).status, 403);
    assert.equal((await call(ADMIN, "/api/prs/acme/api/999")).status, 404);
  });

  it("confirms a PR number with the GitHub API for issue_comment, and puts the check run on its head", async () => {
    const res = await start(RUNNER2, { oidc_token: await token("issue_comment", { run_id: "555" }), pr_number: 42, head_sha: HEAD_SHA });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const { session } = CreateSessionResponse.parse(res.body);
    assert.equal(session.pr_number, 42);
    assert.equal(session.head_sha, HEAD_SHA);
    assert.equal(gh.checkRuns.get(session.check_run_id!)?.head_sha, HEAD_SHA);
    assert.ok(gh.requests.some((r) => r.op === "pulls/get" && r.path === "/repos/acme/api/pulls/42"));
    secondRun = session.check_run_id!;
  });

  it("takes the PR's current head for issue_comment when the payload gives no head sha", async () => {
    const res = await start(RUNNER3, { oidc_token: await token("issue_comment", { run_id: "556" }), pr_number: 43 });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const { session } = CreateSessionResponse.parse(res.body);
    assert.equal(session.pr_number, 43);
    assert.equal(session.head_sha, HEAD_SHA);
    assert.equal((await call(RUNNER3, `/v1/ci/sessions/${session.id}/finish`, { method: "POST" })).status, 200);
  });

  it("sums every session of a PR in its view and in the check run", async () => {
    const pr = PrSummary.parse(await (await call(ADMIN, "/api/prs/acme/api/42")).json());
    assert.equal(pr.totals.sessions, 2);
    assert.equal(pr.sessions.length, 2);
    const summary = (gh.checkRuns.get(secondRun)?.output as { summary: string }).summary;
    assert.match(summary, /### PR #42 so far\n\n2 sessions, 2 requests, /);
  });

  const refusals: [string, string, () => Promise<Record<string, unknown>>, number, string, RegExp][] = [
    ["a token signed with another key", RUNNER3, async () => ({ oidc_token: await token("push", {}, { signer: "foreign" }) }), 401, "oidc_signature", /signature does not verify/],
    ["an alg:none token", RUNNER3, async () => ({ oidc_token: await token("push", {}, { signer: "none" }) }), 401, "oidc_algorithm", /only RS256/],
    ["a token for another audience", RUNNER3, async () => ({ oidc_token: await token("push", {}, { audience: "https://github.com/acme" }) }), 401, "oidc_audience", /audience is not "keyless"/],
    ["a token from another issuer", RUNNER3, async () => ({ oidc_token: await token("push", {}, { issuer: "https://token.actions.githubusercontent.com" }) }), 401, "oidc_issuer", /is not the configured issuer/],
    ["an expired token", RUNNER3, async () => ({ oidc_token: await token("push", {}, { issuedAtOffset: -600 }) }), 401, "oidc_expired", /expired/],
    ["a node without the repository's tag", WRONG_TAGS, async () => ({ oidc_token: await token("push") }), 403, "node_tags", /node github-runner-9\.tail1234\.ts\.net lacks tag:ci-acme-api, required for acme\/api/],
    ["a repository pinned to another id", RUNNER3, async () => ({ oidc_token: await token("push", { repository_id: "999" }) }), 403, "repo_id_mismatch", /pinned to id 812345678/],
    ["a PR number that contradicts the signed ref", RUNNER3, async () => ({ oidc_token: await token("pull_request"), pr_number: 7 }), 403, "pr_mismatch", /pr_number 7 does not match the token's ref refs\/pull\/42\/merge/],
    ["a PR whose head is not the given commit", RUNNER3, async () => ({ oidc_token: await token("issue_comment"), pr_number: 42, head_sha: "9".repeat(40) }), 403, "pr_head_mismatch", /PR #42's head is 1{40}, not 9{40}/],
    ["a PR that does not exist", RUNNER3, async () => ({ oidc_token: await token("workflow_dispatch"), pr_number: 404 }), 403, "pr_not_found", /PR #404 does not exist in acme\/api/],
    ["a dispatched run whose commit is not the PR's head", RUNNER3, async () => ({ oidc_token: await token("workflow_dispatch", { sha: "8".repeat(40) }), pr_number: 42 }), 403, "pr_head_mismatch", /not 8{40} \(the token's sha\)/],
    ["a push naming another commit", RUNNER3, async () => ({ oidc_token: await token("push"), head_sha: "9".repeat(40) }), 403, "head_sha_mismatch", /not the token's sha/],
    ["a malformed body", RUNNER3, async () => ({ oidc_token: "x", pr_number: "42" }), 400, "invalid_request", /pr_number/],
  ];
  for (const [name, from, body, status, code, message] of refusals) {
    it(`refuses ${name} with its own message`, async () => {
      const res = await start(from, await body());
      assert.equal(res.status, status, JSON.stringify(res.body));
      const err = errorOf(res.body);
      assert.equal(err.code, code);
      assert.match(err.message, message);
    });
  }

  it("refuses a replayed token", async () => {
    const t = await token("workflow_dispatch", { run_id: "777" });
    assert.equal((await start(RUNNER3, { oidc_token: t })).status, 201);
    const again = await start(RUNNER3, { oidc_token: t });
    assert.equal(again.status, 401);
    assert.equal(errorOf(again.body).code, "oidc_replay");
  });

  it("keeps answering the LLM path and the finish call while GitHub is down, then writes the final state", async () => {
    const res = await start(RUNNER3, { oidc_token: await token("workflow_dispatch", { run_id: "888" }), pr_number: 43 });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const { session } = CreateSessionResponse.parse(res.body);
    gh.outage = Infinity;
    const claude = new Anthropic({ apiKey: "-", baseURL: h.gateway.url, fetch: h.fetchFrom(RUNNER3), maxRetries: 0 });
    const reply = await claude.messages.create({ model: "claude-sonnet-4-6", max_tokens: 10, messages: [{ role: "user", content: "hi" }] });
    assert.equal(reply.type, "message");
    const t0 = Date.now();
    const fin = await call(RUNNER3, `/v1/ci/sessions/${session.id}/finish`, { method: "POST" });
    assert.equal(fin.status, 200);
    // The check-run write is waited for at most 5 s, then the call answers (slack for a busy machine).
    assert.ok(Date.now() - t0 < 15_000);
    assert.notEqual(gh.checkRuns.get(session.check_run_id!)?.status, "completed");
    gh.outage = 0;
    const run = await waitFor(async () => gh.checkRuns.get(session.check_run_id!)?.status === "completed" && gh.checkRuns.get(session.check_run_id!), 15_000, "final write after the outage");
    assert.match((run.output as { title: string }).title, /1 request/);
    assert.deepEqual(gh.violations, []);
  });
});
