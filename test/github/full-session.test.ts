// A whole CI session through the real request path: an agent's requests with tool calls (one blocked by a guardrail),
// charged to a budget, then finish. The check run's final body must hold the cost, the commands and the finding,
// and every request the gateway made to GitHub must match GitHub's schema.
import assert from "node:assert/strict";
import { waitFor } from "../helpers/wait.js";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { CreateSessionResponse } from "../../src/ci-session.js";
import { capture } from "../fakes/fixtures.js";
import { startFakeGitHub, type FakeGitHub } from "../fakes/github.js";
import { HEAD_SHA, eventClaims, startOidcIssuer, type FakeOidcIssuer } from "../fakes/oidc-issuer.js";
import { type Harness, startHarness } from "../helpers/gateway.js";
import { appKeyPair } from "./app-key.js";

const RUNNER = "127.0.0.3";
const CAP = "keyless.dev/cap/gateway";

describe("a full CI session", () => {
  let issuer: FakeOidcIssuer;
  let gh: FakeGitHub;
  let h: Harness;

  before(async () => {
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
        grants: [{ src: ["tag:ci"], app: { [CAP]: [{ role: "user", models: "**", quotas: [{ bucket: "repo:<repo>" }] }] } }],
        quotas: { "repo:<repo>": { capacity: "$5.00", rate: "$0/day" } },
        guardrails: { enforce: true },
        github: {
          oidc: { issuer: issuer.issuer },
          api_url: gh.url,
          app: { id: "123", private_key: keys.privateKey },
          checks: { update_interval: "100ms", conclusion_when_flagged: "failure" },
          repos: { "acme/*": { tags: ["tag:ci-<owner>-<repo>"] } },
        },
      }),
    });
  });
  after(async () => {
    await h.close();
    await gh.close();
    await issuer.close();
  });

  it("reports cost, commands, the blocked command's finding and the budget in the completed check run", async () => {
    const token = await issuer.mint(eventClaims("pull_request"), { audience: "keyless" });
    const call = h.fetchFrom(RUNNER);
    const res = await call(`${h.gateway.url}/v1/ci/sessions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ oidc_token: token, head_sha: HEAD_SHA }),
    });
    assert.equal(res.status, 201, await res.clone().text());
    const { session } = CreateSessionResponse.parse(await res.json());

    const claude = new Anthropic({ apiKey: "-", baseURL: h.gateway.url, fetch: call, maxRetries: 0 });
    const params = { model: "claude-sonnet-4-6", max_tokens: 100, messages: [{ role: "user" as const, content: "clean up" }] };
    const first = await claude.messages.create(params);
    assert.equal(first.content[0]?.type, "tool_use");
    const dangerous = JSON.parse(capture("fixtures/anthropic-messages-tool_use.json")) as { content: { input: { command: string } }[] };
    dangerous.content[0]!.input.command = "rm -rf ~/ && echo gone";
    h.upstream.once(/^\/v1\/messages$/, () => Response.json(dangerous));
    const second = await claude.messages.create(params);
    assert.notEqual(JSON.stringify(second.content).includes("rm -rf ~/ && echo gone") && second.stop_reason === "tool_use", true, "the blocked call did not reach the agent as a call to run");

    const fin = await call(`${h.gateway.url}/v1/ci/sessions/${session.id}/finish`, { method: "POST" });
    assert.equal(fin.status, 200);

    await h.gateway.requestLog.flush();
    const rows = (await h.gateway.requestLog.list({ session: session.id, limit: 10 }));
    assert.equal(rows.length, 2);
    const cost = rows.reduce((a, r) => a + (r.cost_nanos ?? 0), 0);
    assert.ok(cost > 0);

    // Finish answers at once; the check run is completed by the background sync, which may lag under load.
    const run = await waitFor(async () => {
      const r = gh.checkRuns.get(session.check_run_id!);
      return r?.status === "completed" ? r : undefined;
    }, 5000, "completed check run");
    assert.equal(run.conclusion, "failure", "a guardrail blocked a call");
    const { title, summary } = run.output as { title: string; summary: string };
    assert.match(title, new RegExp(`^\\$${(cost / 1e9).toFixed(4).replace(".", "\\.")} · \\d+ tokens · 2 requests$`));
    const exact = `\\$0.${String(cost).padStart(9, "0").replace(/0+$/, "")}`;
    assert.ok(summary.includes(`| **Total** | 2 |`) && summary.includes(`**${exact}**`), summary);
    const commands = summary.slice(summary.indexOf("### Shell commands"));
    assert.match(commands, /^- `rm -rf ~\/ && echo gone` \*\*blocked\*\*\n- `echo hello`$/m);
    assert.match(summary, /### Guardrail findings\n\n1 critical\.|### Guardrail findings\n\n1 high\./);
    assert.match(summary, /\| (critical|high) \| fs\.rm-root-or-home \| block \| `rm -rf ~\/` \|/);
    assert.match(summary, /\| shell \| 2 \|/);
    assert.match(summary, /### Budgets\n\n\| Bucket \| Spent here \| Remaining \|\n\| --- \| --: \| --: \|\n\| repo:acme\/api \| /);
    assert.deepEqual(gh.violations, []);
    assert.ok(gh.requests.length >= 4 && gh.requests.every((r) => r.errors.length === 0));
  });
});
