// Budget alerts end to end in a CI session: the job's requests (through the real request path, as the session's
// runner) spend a repository's budget past 50 % and then 80 %. Each threshold fires one signed budget_alert webhook,
// once, and the completed check run's summary and the job summary list both alerts.
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { Webhook } from "standardwebhooks";
import { CreateSessionResponse } from "../../src/ci-session.js";
import { type FakeGitHub, startFakeGitHub } from "../fakes/github.js";
import { HEAD_SHA, type FakeOidcIssuer, eventClaims, startOidcIssuer } from "../fakes/oidc-issuer.js";
import { type Harness, startHarness } from "../helpers/gateway.js";
import { waitFor } from "../helpers/wait.js";
import { appKeyPair } from "./app-key.js";

const RUNNER = "127.0.0.3";
const CAP = "keyless.dev/cap/gateway";
const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const BUCKET = "repo:acme/api";
/**
 * A priced model whose every answer (the fake's 12 input and 5 output tokens at $1,000 per million) costs exactly
 * $0.017: a twentieth of the budget. Request 10 reaches 50 %, request 16 reaches 80 %, request 17 (85 %) crosses nothing
 * (and still fits: the gateway reserves up to $0.049 for one, its estimate from the body and max_tokens).
 */
const PRICE = { input: 1000, output: 1000 };
const COST_NANOS = 17_000_000;
const CAPACITY = "$0.34";
const REQUESTS = 17;

interface AlertEvent {
  event: string;
  bucket: string;
  threshold_percent: number;
  spent_nanos: number;
  capacity_nanos: number;
  request_id: string;
  session: { id: string; repository: string; pr_number: number | null } | null;
}

describe("budget alerts in a CI session's check run", () => {
  let issuer: FakeOidcIssuer;
  let gh: FakeGitHub;
  let h: Harness;
  let receiver: http.Server;
  const received: { headers: Record<string, string>; body: string }[] = [];

  before(async () => {
    receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers[k] = v;
        received.push({ headers, body: Buffer.concat(chunks).toString("utf8") });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
    const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/alerts`;
    issuer = await startOidcIssuer();
    const keys = appKeyPair();
    gh = await startFakeGitHub({
      appId: "123",
      publicKeyPem: keys.publicKey,
      repos: [{ owner: "acme", name: "api", id: 812345678, installation: 77, pulls: [{ number: 42, headSha: HEAD_SHA }] }],
    });
    h = await startHarness({
      peers: { [RUNNER]: { tags: ["tag:ci", "tag:ci-acme-api"], nodeId: "nRUNNER1" } },
      config: () => ({
        grants: [
          {
            src: ["tag:ci"],
            app: { [CAP]: [{ role: "user", models: "**", quotas: [{ bucket: "repo:<repo>" }], send_hooks: [{ name: "ops", events: ["budget_alert"] }] }] },
          },
        ],
        // Never refills: each threshold fires once for good.
        quotas: { "repo:<repo>": { capacity: CAPACITY, rate: "$0/day", alerts: [50, 80] } },
        prices: { "anthropic/claude-sonnet-4-6": PRICE },
        hooks: { ops: { url: hookUrl, secret: SECRET, retry: { initial: "50ms", max: "200ms" } } },
        github: {
          oidc: { issuer: issuer.issuer },
          api_url: gh.url,
          app: { id: "123", private_key: keys.privateKey },
          checks: { update_interval: "100ms" },
          repos: { "acme/*": { tags: ["tag:ci-<owner>-<repo>"] } },
        },
      }),
    });
  });
  after(async () => {
    await h.close();
    await gh.close();
    await issuer.close();
    receiver.closeAllConnections();
    await new Promise((r) => receiver.close(r));
  });

  // Every delivery is signed per Standard Webhooks; verify throws otherwise.
  const alerts = () => received.map((r) => new Webhook(SECRET).verify(r.body, r.headers) as AlertEvent);

  it("50 % and 80 % fire one webhook each and are listed in the completed check run and the job summary", async () => {
    const call = h.fetchFrom(RUNNER);
    const token = await issuer.mint(eventClaims("pull_request"), { audience: "keyless" });
    const res = await call(`${h.gateway.url}/v1/ci/sessions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ oidc_token: token, head_sha: HEAD_SHA }) });
    assert.equal(res.status, 201, await res.clone().text());
    const { session } = CreateSessionResponse.parse(await res.json());

    const claude = new Anthropic({ apiKey: "-", baseURL: h.gateway.url, fetch: call, maxRetries: 0 });
    const ask = () => claude.messages.create({ model: "claude-sonnet-4-6", max_tokens: 5, messages: [{ role: "user", content: "hi" }] });
    for (let i = 1; i <= REQUESTS; i++) {
      await ask();
      // Alerts are checked once a request's row has committed; waiting for each keeps "which request crossed" exact.
      const expected = i >= 16 ? 2 : i >= 10 ? 1 : 0;
      await h.gateway.requestLog.flush();
      await waitFor(() => alerts().length >= expected, 5000, `${expected} alerts after request ${i}`);
    }
    await new Promise((r) => setTimeout(r, 300));
    const fired = alerts();
    assert.deepEqual(fired.map((a) => [a.bucket, a.threshold_percent, a.spent_nanos]), [[BUCKET, 50, 10 * COST_NANOS], [BUCKET, 80, 16 * COST_NANOS]], "one webhook per threshold");
    for (const a of fired) {
      assert.equal(a.event, "budget_alert");
      assert.equal(a.capacity_nanos, 20 * COST_NANOS);
      assert.deepEqual(a.session && [a.session.id, a.session.repository, a.session.pr_number], [session.id, "acme/api", 42]);
    }
    const rows = (await h.gateway.requestLog.list({ session: session.id, limit: 50 })).reverse();
    assert.equal(rows.length, REQUESTS);
    assert.deepEqual(rows.map((r) => r.cost_nanos), Array(REQUESTS).fill(COST_NANOS));
    assert.deepEqual(fired.map((a) => a.request_id), [rows[9]!.id, rows[15]!.id], "the requests that crossed them");

    const fin = await call(`${h.gateway.url}/v1/ci/sessions/${session.id}/finish`, { method: "POST" });
    assert.equal(fin.status, 200);
    const run = await waitFor(async () => {
      const r = gh.checkRuns.get(session.check_run_id!);
      return r?.status === "completed" ? r : undefined;
    }, 5000, "completed check run");
    const { summary } = run.output as { summary: string };
    const table = /### Budget alerts\n\n\| Bucket \| Crossed \| Spent \| At \|\n\| --- \| --: \| --: \| --- \|\n((?:\|.*\|\n?)+)/.exec(summary);
    assert.ok(table, summary);
    const listed = table[1]!.trim().split("\n");
    assert.equal(listed.length, 2, table[1]);
    assert.match(listed[0]!, /^\| repo:acme\/api \| 50 % \| \\\$0\.17 of \\\$0\.34 \| \d{4}-\d\d-\d\dT[\d:.]+Z \|$/);
    assert.match(listed[1]!, /^\| repo:acme\/api \| 80 % \| \\\$0\.272 of \\\$0\.34 \| \d{4}-\d\d-\d\dT[\d:.]+Z \|$/);

    const jobSummary = await (await call(`${h.gateway.url}/v1/ci/sessions/${session.id}/summary?format=md`)).text();
    assert.ok(jobSummary.includes(table[0]!.trim()), jobSummary);
    assert.deepEqual(gh.violations, []);
  });
});
