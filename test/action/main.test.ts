// The bundled Action end to end against the real gateway: main joins (stand-in tailscale), registers the job and
// configures agents; an official SDK given only the exported environment is attributed to the session; post cleans up.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { decodeJwt } from "jose";
import { HEAD_SHA, startOidcIssuer, type FakeOidcIssuer } from "../fakes/oidc-issuer.js";
import { KEYS } from "../helpers/gateway.js";
import { fakeTailscale } from "./fake-tailscale.js";
import { RUNNER_NODE, runClaims, startGateway, type TestGateway } from "./gateway.js";
import { exited, newJob, runStep, type StepResult } from "./runner.js";
import { ANTHROPIC_STREAM, OPENAI_CHAT, runSdk } from "./sdk.js";

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

const oidcEnv = () => ({ ACTIONS_ID_TOKEN_REQUEST_URL: issuer.requestUrl, ACTIONS_ID_TOKEN_REQUEST_TOKEN: issuer.requestToken });

/** No secret may reach the log: the minted OIDC tokens, the runner's request token, the gateway's provider keys. */
function assertNoSecrets(r: StepResult, tokens: readonly string[]): void {
  for (const t of [...tokens, issuer.requestToken, ...Object.values(KEYS)]) assert.ok(!r.log.includes(t), "a secret leaked into the log");
}

describe("main and post on a pull_request_target run", () => {
  const job = newJob();
  const ts = fakeTailscale(job.dir);
  const event = {
    name: "pull_request_target",
    payload: { pull_request: { number: 42, head: { sha: HEAD_SHA, repo: { full_name: "acme/api" } } } },
  };
  let main: StepResult;
  let tokens: string[];
  let sessionId: string;

  before(async () => {
    issuer.endpointClaims = runClaims("workflow_dispatch", { event_name: "pull_request_target" });
    main = await runStep("main", job, {
      inputs: { gateway: `${gateway.url}/`, "oauth-client-id": "kXYZ123CNTRL" },
      env: oidcEnv(),
      event,
      path: [ts.binDir],
    });
    tokens = [...new Set(main.masked)];
    sessionId = main.outputs["session-id"] ?? "";
  });

  test("succeeds", () => {
    assert.equal(main.code, 0, main.log);
    assert.deepEqual(main.errors, []);
  });

  test("runs tailscale up with the federated client id, a Tailscale-audience token, the derived tag and hostname", () => {
    const up = ts.calls().find((c) => c.tool === "tailscale" && c.args[0] === "up");
    assert.ok(up, "tailscale up was run");
    const flags = Object.fromEntries(up.args.slice(1).map((a) => [a.slice(2, a.indexOf("=")), a.slice(a.indexOf("=") + 1)]));
    assert.deepEqual(Object.keys(flags), ["client-id", "id-token", "advertise-tags", "hostname", "timeout"]);
    assert.equal(flags["client-id"], "kXYZ123CNTRL?ephemeral=true&preauthorized=true");
    assert.equal(flags["advertise-tags"], "tag:ci-acme-api");
    assert.equal(flags.hostname, "ci-api-9876543210-1");
    assert.equal(flags.timeout, "120s");
    // The token travels in a file only the runner's user can read, never on the command line.
    assert.match(flags["id-token"]!, /^file:\/.+\/keyless-join-[^/]+\/credential$/);
    assert.equal(up.files?.["id-token"]?.mode, 0o600);
    assert.ok(!existsSync(flags["id-token"]!.slice(5)), "the token file is gone once up returned");
    const claims = decodeJwt(up.files?.["id-token"]?.content ?? "");
    assert.equal(claims.aud, "api.tailscale.com/kXYZ123CNTRL");
    assert.equal(claims.repository, "acme/api");
  });

  test("does not start a daemon when one answers", () => {
    assert.equal(ts.calls().filter((c) => c.tool === "tailscaled").length, 0);
    assert.equal(main.state.tailscaled_pid, undefined);
  });

  test("mints two tokens, masks both, and never prints them", () => {
    assert.deepEqual(tokens.map((t) => decodeJwt(t).aud).sort(), ["api.tailscale.com/kXYZ123CNTRL", "keyless"]);
    assertNoSecrets(main, tokens);
    assert.match(main.log, /--id-token=file:\S+ /);
  });

  test("the gateway registered the session for this node, with the payload's PR (verified) and head sha", async () => {
    assert.match(sessionId, /^ses_/);
    const { session } = await gateway.summary(sessionId);
    assert.equal(session.node_id, RUNNER_NODE);
    assert.equal(session.repository, "acme/api");
    assert.equal(session.event, "pull_request_target");
    assert.equal(session.pr_number, 42);
    assert.equal(session.head_sha, HEAD_SHA);
    assert.equal(session.job, "review", "GITHUB_JOB, for display");
    assert.equal(session.finished_at, null);
    assert.ok(gateway.github.requests.some((r) => r.method === "GET" && r.path === "/repos/acme/api/pulls/42"), "PR verified with GitHub");
    assert.equal(main.exported.KEYLESS_SESSION_ID, sessionId);
  });

  test("exports every agent's configuration", () => {
    const base = gateway.url;
    const e = main.exported;
    assert.equal(e.ANTHROPIC_BASE_URL, base);
    assert.equal(e.ANTHROPIC_API_KEY, "keyless");
    assert.equal(e.CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC, "1");
    assert.equal(e.OPENAI_BASE_URL, `${base}/v1`);
    assert.equal(e.OPENAI_API_KEY, "keyless");
    assert.equal(e.GOOGLE_GEMINI_BASE_URL, base);
    assert.equal(e.GEMINI_API_KEY, "keyless");
    assert.equal(e.KEYLESS_BASE_URL, base);
    assert.equal(e.CODEX_HOME, join(job.runnerTemp, "keyless", "codex"));
    assert.equal(e.KEYLESS_API_KEY, "keyless");
    assert.equal(e.CLAUDE_CODE_USE_BEDROCK, undefined);
  });

  test("writes Codex's config.toml and Gemini CLI's settings", () => {
    const toml = readFileSync(join(job.runnerTemp, "keyless", "codex", "config.toml"), "utf8");
    assert.match(readFileSync(join(job.runnerTemp, "keyless", "codex", "keyless.config.toml"), "utf8"), /^model_provider = "keyless"$/m);
    assert.match(toml, /^\[model_providers\.keyless\]$/m);
    assert.ok(toml.includes(`base_url = "${gateway.url}/v1"`), toml);
    assert.match(toml, /^env_key = "KEYLESS_API_KEY"$/m);
    assert.match(toml, /^wire_api = "responses"$/m);
    const settings = JSON.parse(readFileSync(join(job.home, ".gemini", "settings.json"), "utf8"));
    assert.deepEqual(settings, { security: { auth: { selectedType: "gemini-api-key" } }, privacy: { usageStatisticsEnabled: false } });
    assert.match(toml, /^\[analytics\]\nenabled = false$/m);
  });

  test("sets the outputs", () => {
    const o = main.outputs;
    assert.equal(o["base-url"], gateway.url);
    assert.equal(o["claude-base-url"], gateway.url);
    assert.equal(o["openai-base-url"], `${gateway.url}/v1`);
    assert.equal(o["codex-base-url"], `${gateway.url}/v1`);
    assert.equal(o["gemini-base-url"], gateway.url);
    assert.equal(o["codex-home"], join(job.runnerTemp, "keyless", "codex"));
    assert.equal(o.skipped, "false");
  });

  test("does not warn about Gemini CLI's https rule for a loopback gateway", () => {
    assert.ok(!main.warnings.some((w) => w.includes("Gemini")), main.warnings.join("\n"));
  });

  test("the Anthropic and OpenAI SDKs, given only the exported environment, are attributed to the session", async () => {
    const claude = await runSdk(ANTHROPIC_STREAM, main.exported, job.home);
    assert.equal(claude.code, 0, claude.stderr);
    assert.ok(claude.lines.some((l) => l.event === "message_stop"), JSON.stringify(claude.lines));
    const gpt = await runSdk(OPENAI_CHAT, main.exported, job.home);
    assert.equal(gpt.code, 0, gpt.stderr);
    const rows = await gateway.requests(sessionId);
    assert.deepEqual(rows.map((r) => `${r.provider}/${r.model} ${r.status}`).sort(), ["anthropic/claude-sonnet-4-6 200", "openai/gpt-5-mini 200"]);
    assert.ok(rows.every((r) => r.node_id === RUNNER_NODE));
    // The placeholder key stayed on the runner: the upstream saw the gateway's own key.
    assert.ok(gateway.harness.upstream.requests.every((r) => !JSON.stringify(r.headers).includes("keyless")));
  });

  test("post finishes the session, writes the gateway's summary and logs out", async () => {
    const post = await runStep("post", job, { env: oidcEnv(), path: [ts.binDir] });
    assert.equal(post.code, 0, post.log);
    assert.deepEqual(post.warnings, []);
    const summary = await gateway.summary(sessionId);
    assert.ok(summary.session.finished_at, "finished");
    assert.equal(summary.session.finish_reason, "finished");
    assert.equal(summary.totals.requests, 2);
    assert.ok(post.summary.includes(summary.markdown.trim()), post.summary);
    assert.deepEqual(ts.calls().at(-1), { tool: "tailscale", args: ["logout"] });
    assertNoSecrets(post, tokens);
  });
});

describe("a pull_request run", () => {
  test("sends only the head sha: the gateway takes the PR number from the token's signed ref", async () => {
    const job = newJob();
    const ts = fakeTailscale(job.dir);
    issuer.endpointClaims = runClaims("pull_request", { ref: "refs/pull/7/merge" });
    const r = await runStep("main", job, {
      inputs: { gateway: gateway.url, "oauth-client-id": "kABC", tags: "tag:ci, tag:ci-<repo>" },
      env: oidcEnv(),
      event: { name: "pull_request", payload: { pull_request: { number: 7, head: { sha: HEAD_SHA, repo: { full_name: "acme/api" } } } } },
      path: [ts.binDir],
    });
    assert.equal(r.code, 0, r.log);
    const { session } = await gateway.summary(r.outputs["session-id"]!);
    assert.equal(session.pr_number, 7);
    assert.equal(session.head_sha, HEAD_SHA, "the check run goes on the PR head, not the merge commit");
    const up = ts.calls().find((c) => c.args[0] === "up")!;
    assert.ok(up.args.includes("--advertise-tags=tag:ci,tag:ci-api"), up.args.join(" "));
    await runStep("post", job, { path: [ts.binDir] });
  });
});

describe("an issue_comment run on a PR", () => {
  test(
    "sends the PR number from the payload; the gateway verifies it and puts the check run on the PR's head",
    async () => {
      const job = newJob();
      issuer.endpointClaims = runClaims("issue_comment");
      const r = await runStep("main", job, {
        inputs: { gateway: gateway.url, join: "none", agents: "none" },
        env: oidcEnv(),
        event: { name: "issue_comment", payload: { issue: { number: 42, pull_request: { url: "…" } } } },
      });
      assert.equal(r.code, 0, r.log);
      const { session } = await gateway.summary(r.outputs["session-id"]!);
      assert.equal(session.pr_number, 42);
      assert.equal(session.head_sha, HEAD_SHA);
      await runStep("post", job, {});
    },
  );
});

describe("a runner without a tailscale daemon", () => {
  test("main starts tailscaled and post stops it after logging out", async () => {
    const job = newJob();
    const ts = fakeTailscale(job.dir, { daemon: "down" });
    issuer.endpointClaims = runClaims("push");
    const main = await runStep("main", job, {
      inputs: { gateway: gateway.url, "oauth-client-id": "kABC", agents: "claude" },
      env: oidcEnv(),
      path: [ts.binDir],
    });
    assert.equal(main.code, 0, main.log);
    const pid = ts.daemonPid();
    assert.ok(pid, "tailscaled was started");
    assert.equal(main.state.tailscaled_pid, String(pid));
    const started = ts.calls().find((c) => c.tool === "tailscaled")!;
    assert.deepEqual(started.args, ["--state=mem:"]);
    assert.deepEqual(Object.keys(main.outputs).sort(), ["base-url", "claude-base-url", "session-id", "skipped"]);
    assert.equal(main.exported.OPENAI_BASE_URL, undefined);

    const post = await runStep("post", job, { path: [ts.binDir] });
    assert.equal(post.code, 0, post.log);
    assert.deepEqual(post.warnings, []);
    assert.deepEqual(ts.calls().slice(-2), [
      { tool: "tailscale", args: ["logout"] },
      { tool: "tailscaled", args: ["--cleanup"] },
    ]);
    assert.equal(await exited(pid), true, "tailscaled is stopped");
  });
});

describe("join: none", () => {
  test("uses the existing tailnet connection: no tailscale, no Tailscale token, no logout", async () => {
    const job = newJob();
    const ts = fakeTailscale(job.dir);
    issuer.endpointClaims = runClaims("push");
    const main = await runStep("main", job, { inputs: { gateway: gateway.url, join: "none", agents: "openai" }, env: oidcEnv(), path: [ts.binDir] });
    assert.equal(main.code, 0, main.log);
    assert.deepEqual([...new Set(main.masked)].map((t) => decodeJwt(t).aud), ["keyless"], "only the gateway token was minted");
    assert.equal(main.exported.OPENAI_BASE_URL, `${gateway.url}/v1`);
    const post = await runStep("post", job, { path: [ts.binDir] });
    assert.equal(post.code, 0);
    assert.deepEqual(ts.calls(), []);
    assert.ok((await gateway.summary(main.outputs["session-id"]!)).session.finished_at);
  });
});

describe("provider-mode", () => {
  for (const [mode, expected] of [
    ["bedrock", { CLAUDE_CODE_USE_BEDROCK: "1", ANTHROPIC_BEDROCK_BASE_URL: "/bedrock", CLAUDE_CODE_SKIP_BEDROCK_AUTH: "1", AWS_REGION: "us-east-1" }],
    ["vertex", { CLAUDE_CODE_USE_VERTEX: "1", ANTHROPIC_VERTEX_BASE_URL: "/v1", CLAUDE_CODE_SKIP_VERTEX_AUTH: "1", ANTHROPIC_VERTEX_PROJECT_ID: "keyless", CLOUD_ML_REGION: "us-east5" }],
  ] as const) {
    test(`${mode} points Claude Code at the gateway's ${mode} routes`, async () => {
      const job = newJob();
      issuer.endpointClaims = runClaims("push");
      const r = await runStep("main", job, { inputs: { gateway: gateway.url, join: "none", agents: "claude", "provider-mode": mode }, env: oidcEnv() });
      assert.equal(r.code, 0, r.log);
      for (const [k, v] of Object.entries(expected)) assert.equal(r.exported[k], v.startsWith("/") ? gateway.url + v : v, k);
      assert.equal(r.outputs["claude-base-url"], gateway.url + (mode === "bedrock" ? "/bedrock" : "/v1"));
      await runStep("post", job, {});
    });
  }

  test("bedrock keeps an AWS_REGION the job already set", async () => {
    const job = newJob();
    issuer.endpointClaims = runClaims("push");
    const r = await runStep("main", job, {
      inputs: { gateway: gateway.url, join: "none", agents: "claude", "provider-mode": "bedrock" },
      env: { ...oidcEnv(), AWS_REGION: "eu-west-1" },
    });
    assert.equal(r.code, 0, r.log);
    assert.equal(r.exported.AWS_REGION, undefined);
    await runStep("post", job, {});
  });
});

describe("Gemini CLI", () => {
  test("keeps the user's other settings when selecting API-key auth", async () => {
    const job = newJob();
    mkdirSync(join(job.home, ".gemini"));
    const file = join(job.home, ".gemini", "settings.json");
    writeFileSync(file, JSON.stringify({ ui: { theme: "dark" }, security: { folderTrust: { enabled: false } } }));
    issuer.endpointClaims = runClaims("push");
    const r = await runStep("main", job, { inputs: { gateway: gateway.url, join: "none", agents: "gemini" }, env: oidcEnv() });
    assert.equal(r.code, 0, r.log);
    assert.deepEqual(JSON.parse(readFileSync(file, "utf8")), {
      ui: { theme: "dark" },
      security: { folderTrust: { enabled: false }, auth: { selectedType: "gemini-api-key" } },
      privacy: { usageStatisticsEnabled: false },
    });
    await runStep("post", job, {});
  });
});
