// Each failure path of the bundled Action: an explanation the workflow author can act on, never a stack trace, and
// nothing secret in the log. Post never fails the job.
import assert from "node:assert/strict";
import { createServer as createHttpServer } from "node:http";
import { createServer, type AddressInfo } from "node:net";
import { after, before, beforeEach, describe, test } from "node:test";
import { startOidcIssuer, type FakeOidcIssuer } from "../fakes/oidc-issuer.js";
import { fakeTailscale } from "./fake-tailscale.js";
import { runClaims, startGateway, type TestGateway } from "./gateway.js";
import { commandText, newJob, runStep, type StepResult } from "./runner.js";

let issuer: FakeOidcIssuer;
let gateway: TestGateway;

before(async () => {
  issuer = await startOidcIssuer();
  gateway = await startGateway({ issuer });
});
after(async () => {
  await gateway.close();
  await issuer.close();
});

/** A loopback port nothing listens on (fetch refuses some well-known ports such as 9 outright). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

beforeEach(() => {
  issuer.endpointClaims = runClaims("push");
});

const oidcEnv = () => ({ ACTIONS_ID_TOKEN_REQUEST_URL: issuer.requestUrl, ACTIONS_ID_TOKEN_REQUEST_TOKEN: issuer.requestToken });

function failedWith(r: StepResult): string {
  assert.equal(r.code, 1, r.log);
  assert.equal(r.errors.length, 1, r.log);
  assert.doesNotMatch(r.log, /^\s+at .+\(.*:\d+:\d+\)$/m, "no stack trace");
  return commandText(r.errors[0]!);
}

describe("no OIDC token", () => {
  test("fail (default): explains the missing id-token permission; tailscale is never run", async () => {
    const job = newJob();
    const ts = fakeTailscale(job.dir);
    const r = await runStep("main", job, { inputs: { gateway: gateway.url, "oauth-client-id": "kX" }, path: [ts.binDir] });
    const msg = failedWith(r);
    assert.match(msg, /needs a GitHub OIDC token/);
    assert.match(msg, /The job lacks the `id-token: write` permission/);
    assert.match(msg, /on-missing-oidc: skip/);
    assert.deepEqual(ts.calls(), []);
  });

  test("fail on a fork's pull request names the fork", async () => {
    const job = newJob();
    const r = await runStep("main", job, {
      inputs: { gateway: gateway.url, "oauth-client-id": "kX" },
      event: { name: "pull_request", payload: { pull_request: { number: 3, head: { sha: "b".repeat(40), repo: { full_name: "mallory/api" } } } } },
    });
    assert.match(failedWith(r), /pull request from the fork mallory\/api; GitHub gives such runs no OIDC token/);
  });

  test("skip: warns, configures nothing, outputs skipped=true, and post has nothing to do", async () => {
    const job = newJob();
    const ts = fakeTailscale(job.dir);
    const r = await runStep("main", job, {
      inputs: { gateway: gateway.url, "oauth-client-id": "kX", "on-missing-oidc": "skip" },
      env: { GITHUB_ACTOR: "dependabot[bot]" },
      path: [ts.binDir],
    });
    assert.equal(r.code, 0, r.log);
    assert.equal(r.outputs.skipped, "true");
    assert.deepEqual(r.exported, {});
    assert.match(commandText(r.warnings.join("\n")), /Dependabot runs get no OIDC token\..*Continuing without the gateway/s);
    const post = await runStep("post", job, { path: [ts.binDir] });
    assert.equal(post.code, 0);
    assert.match(post.log, /nothing to clean up/);
    assert.deepEqual(ts.calls(), []);
  });

  test("a token endpoint that refuses is reported with its status", async () => {
    const job = newJob();
    const ts = fakeTailscale(job.dir);
    const r = await runStep("main", job, {
      inputs: { gateway: gateway.url, "oauth-client-id": "kX" },
      env: { ...oidcEnv(), ACTIONS_ID_TOKEN_REQUEST_TOKEN: "wrong" },
      path: [ts.binDir],
    });
    const msg = failedWith(r);
    assert.match(msg, /could not get a GitHub OIDC token for Tailscale \(audience "api\.tailscale\.com\/kX"\): Failed to get ID Token/);
    assert.match(msg, /Error Code : 401/);
  });
});

describe("tailscale up refused by the federated identity", () => {
  test("names the client id, the tags and the token subject, and quotes tailscale", async () => {
    const job = newJob();
    const ts = fakeTailscale(job.dir, { upError: "backend error: requested tags [tag:ci-acme-api] are invalid or not permitted" });
    const r = await runStep("main", job, { inputs: { gateway: gateway.url, "oauth-client-id": "kBAD", retry: "1" }, env: oidcEnv(), path: [ts.binDir] });
    const msg = failedWith(r);
    assert.match(msg, /Tailscale refused to let this job join: tailscale up exited 1 with client id "kBAD" and tags "tag:ci-acme-api" for the token subject "repo:acme\/api:ref:refs\/heads\/main"/);
    assert.match(msg, /tailscale said: backend error: requested tags \[tag:ci-acme-api\] are invalid or not permitted/);
    assert.match(msg, /Trust credentials/);
    const token = ts.calls().find((c) => c.args[0] === "up")?.files?.["id-token"]?.content ?? "";
    assert.match(token, /^ey/);
    assert.ok(!r.log.includes(token));
    // Never joined, so post does not log out.
    const post = await runStep("post", job, { path: [ts.binDir] });
    assert.equal(post.code, 0);
    assert.ok(!ts.calls().some((c) => c.args[0] === "logout"));
  });

  test("a tailscale older than 1.90 is refused before trying", async () => {
    const job = newJob();
    const ts = fakeTailscale(job.dir, { version: "1.88.3" });
    const r = await runStep("main", job, { inputs: { gateway: gateway.url, "oauth-client-id": "kX" }, env: oidcEnv(), path: [ts.binDir] });
    assert.match(failedWith(r), /the tailscale on this runner is 1\.88\.3, but joining .* needs 1\.90\.0 or later/);
    assert.ok(!ts.calls().some((c) => c.args[0] === "up"));
  });

  test("a runner already on a tailnet is pointed at join: none", async () => {
    const job = newJob();
    const ts = fakeTailscale(job.dir, { initialState: "Running" });
    const r = await runStep("main", job, { inputs: { gateway: gateway.url, "oauth-client-id": "kX" }, env: oidcEnv(), path: [ts.binDir] });
    assert.match(failedWith(r), /already connected to a tailnet; set join: none/);
  });
});

describe("gateway", () => {
  test("unreachable: says which URL, how long, the last error, and what to check", async () => {
    const job = newJob();
    const ts = fakeTailscale(job.dir);
    const port = await closedPort();
    const r = await runStep("main", job, {
      inputs: { gateway: `http://127.0.0.1:${port}`, "oauth-client-id": "kX", timeout: "2" },
      env: oidcEnv(),
      path: [ts.binDir],
    });
    const msg = failedWith(r);
    assert.match(msg, new RegExp(`The gateway http://127\\.0\\.0\\.1:${port} did not answer`));
    assert.match(msg, /did not answer GET \/healthz within 2s \(last attempt: ECONNREFUSED/);
    assert.match(msg, /the tailnet policy lets tag:ci-acme-api reach it/);
    // It joined before failing: post still logs out.
    const post = await runStep("post", job, { path: [ts.binDir] });
    assert.equal(post.code, 0);
    assert.deepEqual(ts.calls().at(-1), { tool: "tailscale", args: ["logout"] });
  });

  test("unhealthy (503) until the deadline", async () => {
    const job = newJob();
    const starting = createHttpServer((_req, res) => res.writeHead(503).end("starting"));
    await new Promise<void>((resolve) => starting.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(starting.address() as AddressInfo).port}`;
      const r = await runStep("main", job, { inputs: { gateway: url, join: "none", timeout: "1" }, env: oidcEnv() });
      const msg = failedWith(r);
      assert.match(msg, /did not answer GET \/healthz within 1s \(last attempt: HTTP 503\)/);
      assert.match(msg, /this runner's tailnet identity may reach it/);
    } finally {
      starting.close();
    }
  });

  test("session refused: the gateway's code and reason", async () => {
    const job = newJob();
    issuer.endpointClaims = runClaims("push", { repository: "acme/web", repository_id: "999" });
    const r = await runStep("main", job, { inputs: { gateway: gateway.url, join: "none" }, env: oidcEnv() });
    assert.equal(
      failedWith(r),
      "The gateway refused to register this job: HTTP 403 repo_not_mapped: repository acme/web is not in github.repos; no node may open sessions for it",
    );
    assert.equal(r.exported.ANTHROPIC_BASE_URL, undefined, "no agent is pointed at a gateway that refused the job");
  });

  test("a token for the wrong audience is refused by the gateway's verifier", async () => {
    const job = newJob();
    const r = await runStep("main", job, { inputs: { gateway: gateway.url, join: "none", "gateway-audience": "not-keyless" }, env: oidcEnv() });
    assert.match(failedWith(r), /HTTP 401 oidc_audience: oidc_token audience is not "keyless"/);
  });
});

describe("post", () => {
  test("never fails the job: every part runs and problems become warnings", async () => {
    const job = newJob();
    const ts = fakeTailscale(job.dir);
    const main = await runStep("main", job, { inputs: { gateway: gateway.url, "oauth-client-id": "kX", agents: "none" }, env: oidcEnv(), path: [ts.binDir] });
    assert.equal(main.code, 0, main.log);
    // The session is unknown to the gateway, and tailscale cannot log out (its daemon died, say).
    job.lastState.session_id = "ses_unknown";
    ts.configure({ daemon: "down" });
    const post = await runStep("post", job, { path: [ts.binDir] });
    assert.equal(post.code, 0, post.log);
    const w = post.warnings.map(commandText);
    assert.equal(w.length, 3, w.join("\n"));
    assert.match(w[0]!, /could not finish the session: finishing session ses_unknown failed: HTTP 404 session_not_found: no CI session ses_unknown/);
    assert.match(w[1]!, /could not write the job summary: .*HTTP 404/);
    assert.match(w[2]!, /could not leave the tailnet \(tailscale logout\): .*removed by Tailscale once it goes offline/);
    assert.deepEqual(ts.calls().at(-1), { tool: "tailscale", args: ["logout"] }, "logout was still attempted");
  });

  test("with the gateway gone it still logs out", async () => {
    const job = newJob();
    const ts = fakeTailscale(job.dir);
    const main = await runStep("main", job, { inputs: { gateway: gateway.url, "oauth-client-id": "kX", agents: "none" }, env: oidcEnv(), path: [ts.binDir] });
    assert.equal(main.code, 0, main.log);
    const port = await closedPort();
    job.lastState.gateway = `http://127.0.0.1:${port}`;
    const post = await runStep("post", job, { path: [ts.binDir] });
    assert.equal(post.code, 0);
    assert.match(commandText(post.warnings[0]!), /could not reach the gateway to finish the session \(POST http:\/\/127\.0\.0\.1:\d+\/v1\/ci\/sessions\/.*\/finish\): ECONNREFUSED/);
    assert.deepEqual(ts.calls().at(-1), { tool: "tailscale", args: ["logout"] });
  });
});
