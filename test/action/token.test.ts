// join: token — a runner that cannot join the tailnet gets a session token from the gateway (where the repository
// mapping allows it), and every agent presents it as its API key.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { decodeJwt } from "jose";
import { HEAD_SHA, startOidcIssuer, type FakeOidcIssuer } from "../fakes/oidc-issuer.js";
import { fakeTailscale } from "./fake-tailscale.js";
import { runClaims, startGateway, type TestGateway } from "./gateway.js";
import { newJob, runStep, type StepResult } from "./runner.js";
import { ANTHROPIC_STREAM, OPENAI_CHAT, runSdk } from "./sdk.js";

let issuer: FakeOidcIssuer;
let gateway: TestGateway;

before(async () => {
  issuer = await startOidcIssuer({ endpointClaims: runClaims("pull_request") });
  gateway = await startGateway({ issuer, onTailnet: false });
});
after(async () => {
  await gateway.close();
  await issuer.close();
});

describe("join: token", () => {
  const job = newJob();
  const ts = fakeTailscale(job.dir);
  let main: StepResult;
  let token: string;

  before(async () => {
    main = await runStep("main", job, {
      inputs: { gateway: gateway.url, join: "token" },
      env: { ACTIONS_ID_TOKEN_REQUEST_URL: issuer.requestUrl, ACTIONS_ID_TOKEN_REQUEST_TOKEN: issuer.requestToken },
      event: { name: "pull_request", payload: { pull_request: { number: 42, head: { sha: HEAD_SHA, repo: { full_name: "acme/api" } } } } },
      path: [ts.binDir],
    });
    token = main.exported.ANTHROPIC_API_KEY ?? "";
  });

  test("opens a token session without touching tailscale", async () => {
    assert.equal(main.code, 0, main.log);
    assert.deepEqual(ts.calls(), []);
    const { session } = await gateway.summary(main.outputs["session-id"]!);
    assert.equal(session.node_id, `token:${session.id}`);
    assert.equal(session.pr_number, 42);
  });

  test("every agent presents the session token, which is masked and never printed", () => {
    assert.match(token, /^kls_/);
    for (const name of ["ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY", "KEYLESS_API_KEY"]) assert.equal(main.exported[name], token, name);
    assert.ok(main.masked.includes(token));
    assert.ok(!main.log.includes(token));
    assert.deepEqual([...new Set(main.masked)].filter((t) => t !== token).map((t) => decodeJwt(t).aud), ["keyless"]);
  });

  test("official SDKs given only the exported environment are attributed to the session", async () => {
    const claude = await runSdk(ANTHROPIC_STREAM, main.exported, job.home);
    assert.equal(claude.code, 0, claude.stderr);
    const gpt = await runSdk(OPENAI_CHAT, main.exported, job.home);
    assert.equal(gpt.code, 0, gpt.stderr);
    const rows = await gateway.requests(main.outputs["session-id"]!);
    assert.equal(rows.length, 2);
    assert.ok(rows.every((r) => r.node_id === `token:${main.outputs["session-id"]}` && r.principal === "tag:ci-acme-api"));
    assert.ok(gateway.harness.upstream.requests.every((r) => !JSON.stringify(r.headers).includes(token)), "the token stays at the gateway");
  });

  test("post finishes the session with the token and writes the summary; the token then stops working", async () => {
    const post = await runStep("post", job, {});
    assert.equal(post.code, 0, post.log);
    assert.deepEqual(post.warnings, []);
    const summary = await gateway.summary(main.outputs["session-id"]!);
    assert.ok(summary.session.finished_at);
    // Written just before finishing (the token dies with the session), so it says "Running since" where the
    // gateway's final report says "Finished at"; otherwise the same report.
    const strip = (md: string) => md.replace(/^(Running since|Finished at) \S+$/m, "").trim();
    assert.equal(strip(post.summary), strip(summary.markdown));
    assert.match(post.summary, /2 requests, 0 errors, 0 denied\./);
    assert.ok(!post.log.includes(token));
    const after = await runSdk(OPENAI_CHAT, main.exported, job.home);
    assert.notEqual(after.code, 0, "a finished session's token is refused");
  });
});

test("join: token needs an https gateway", async () => {
  const r = await runStep("main", newJob(), {
    inputs: { gateway: "http://ai-gateway", join: "token" },
    env: { ACTIONS_ID_TOKEN_REQUEST_URL: issuer.requestUrl, ACTIONS_ID_TOKEN_REQUEST_TOKEN: issuer.requestToken },
  });
  assert.equal(r.code, 1);
  assert.match(r.errors[0] ?? "", /join: token sends a bearer token to the gateway, so "gateway" must be an https URL/);
});
