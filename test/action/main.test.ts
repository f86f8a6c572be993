// The bundled Action end to end: main joins (stand-in tailscale), registers the job, configures agents; post cleans up.
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { decodeJwt } from "jose";
import { HEAD_SHA, eventClaims, startOidcIssuer, type FakeOidcIssuer } from "../fakes/oidc-issuer.js";
import { fakeTailscale } from "./fake-tailscale.js";
import { startGateway, type TestGateway } from "./gateway.js";
import { exited, newJob, runStep } from "./runner.js";

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

/** Everything the stand-in tailscale and the gateway saw that is a token: none of it may reach the log. */
function tokensSeen(ts: ReturnType<typeof fakeTailscale>): string[] {
  const fromTs = ts
    .calls()
    .flatMap((c) => c.args)
    .filter((a) => a.startsWith("--id-token="))
    .map((a) => a.slice("--id-token=".length));
  return [...fromTs, ...gateway.createRequests.map((r) => r.oidc_token), issuer.requestToken];
}

describe("main and post on a pull_request_target run", () => {
  const job = newJob();
  const ts = fakeTailscale(job.dir);
  const event = {
    name: "pull_request_target",
    payload: { pull_request: { number: 42, head: { sha: HEAD_SHA, repo: { full_name: "acme/api" } } } },
  };
  let main: Awaited<ReturnType<typeof runStep>>;

  before(async () => {
    issuer.endpointClaims = eventClaims("workflow_dispatch");
    main = await runStep("main", job, {
      inputs: { gateway: `${gateway.url}/`, "tailscale-client-id": "kXYZ123CNTRL" },
      env: oidcEnv(),
      event,
      path: [ts.binDir],
    });
  });

  test("succeeds", () => {
    assert.equal(main.code, 0, main.log);
    assert.deepEqual(main.errors, []);
  });

  test("runs tailscale up with the federated client id, a Tailscale-audience token, the derived tag and hostname", () => {
    const up = ts.calls().find((c) => c.tool === "tailscale" && c.args[0] === "up");
    assert.ok(up, "tailscale up was run");
    const flags = Object.fromEntries(up.args.slice(1).map((a) => [a.slice(2, a.indexOf("=")), a.slice(a.indexOf("=") + 1)]));
    assert.equal(flags["client-id"], "kXYZ123CNTRL?ephemeral=true&preauthorized=true");
    assert.equal(flags["advertise-tags"], "tag:ci-acme-api");
    assert.equal(flags.hostname, "ci-api-9876543210-1");
    assert.equal(flags.timeout, "120s");
    const claims = decodeJwt(flags["id-token"]!);
    assert.equal(claims.aud, "api.tailscale.com/kXYZ123CNTRL");
    assert.equal(claims.repository, "acme/api");
  });

  test("does not start a daemon when one answers", () => {
    assert.equal(ts.calls().filter((c) => c.tool === "tailscaled").length, 0);
    assert.equal(main.state.tailscaled_pid, undefined);
  });

  test("registers the session with a gateway-audience token, the payload's PR number and head sha", () => {
    assert.equal(gateway.createRequests.length, 1);
    const req = gateway.createRequests[0]!;
    assert.equal(req.pr_number, 42);
    assert.equal(req.head_sha, HEAD_SHA);
    assert.equal(decodeJwt(req.oidc_token).aud, "keyless");
    assert.equal(gateway.sessions.length, 1);
    assert.equal(main.outputs["session-id"], gateway.sessions[0]!.id);
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
    assert.equal(e.KEYLESS_SESSION_ID, gateway.sessions[0]!.id);
    assert.equal(e.CODEX_HOME, join(job.runnerTemp, "keyless", "codex"));
    assert.equal(e.KEYLESS_API_KEY, "keyless");
    assert.equal(e.CLAUDE_CODE_USE_BEDROCK, undefined);
  });

  test("writes Codex's config.toml and Gemini CLI's settings", () => {
    const toml = readFileSync(join(job.runnerTemp, "keyless", "codex", "config.toml"), "utf8");
    assert.match(toml, /^model_provider = "keyless"$/m);
    assert.match(toml, /^\[model_providers\.keyless\]$/m);
    assert.ok(toml.includes(`base_url = "${gateway.url}/v1"`), toml);
    assert.match(toml, /^env_key = "KEYLESS_API_KEY"$/m);
    assert.match(toml, /^wire_api = "responses"$/m);
    const settings = JSON.parse(readFileSync(join(job.home, ".gemini", "settings.json"), "utf8"));
    assert.deepEqual(settings, { security: { auth: { selectedType: "gemini-api-key" } } });
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

  test("masks both OIDC tokens and never prints them", () => {
    const seen = tokensSeen(ts);
    assert.equal(seen.length, 3);
    for (const t of seen.slice(0, 2)) assert.ok(main.masked.includes(t), "token was passed to ::add-mask::");
    for (const t of seen) assert.ok(!main.log.includes(t), "token leaked into the log");
    assert.match(main.log, /--id-token=\*\*\*/);
  });

  test("post finishes the session, writes the gateway's summary and logs out", async () => {
    const post = await runStep("post", job, { env: oidcEnv(), path: [ts.binDir] });
    assert.equal(post.code, 0, post.log);
    assert.deepEqual(post.warnings, []);
    const id = gateway.sessions[0]!.id;
    assert.deepEqual(gateway.finished, [id]);
    assert.ok(post.summary.includes(`Session \`${id}\` of acme/api`), post.summary);
    const last = ts.calls().at(-1)!;
    assert.deepEqual(last, { tool: "tailscale", args: ["logout"] });
    for (const t of tokensSeen(ts)) assert.ok(!post.log.includes(t), "token leaked into the post log");
  });
});

describe("a pull_request run", () => {
  test("sends only the head sha: the PR number is in the token's signed ref", async () => {
    const job = newJob();
    const ts = fakeTailscale(job.dir);
    issuer.endpointClaims = eventClaims("pull_request", { pr: 7 });
    const before = gateway.createRequests.length;
    const r = await runStep("main", job, {
      inputs: { gateway: gateway.url, "tailscale-client-id": "kABC", tags: "tag:ci, tag:ci-<repo>" },
      env: oidcEnv(),
      event: { name: "pull_request", payload: { pull_request: { number: 7, head: { sha: HEAD_SHA, repo: { full_name: "acme/api" } } } } },
      path: [ts.binDir],
    });
    assert.equal(r.code, 0, r.log);
    const req = gateway.createRequests[before]!;
    assert.equal(req.pr_number, undefined);
    assert.equal(req.head_sha, HEAD_SHA);
    assert.equal(gateway.sessions.at(-1)!.pr_number, 7);
    const up = ts.calls().find((c) => c.args[0] === "up")!;
    assert.ok(up.args.includes("--advertise-tags=tag:ci,tag:ci-api"), up.args.join(" "));
  });
});

describe("a runner without a tailscale daemon", () => {
  test("main starts tailscaled and post stops it after logging out", async () => {
    const job = newJob();
    const ts = fakeTailscale(job.dir, { daemon: "down" });
    issuer.endpointClaims = eventClaims("push");
    const main = await runStep("main", job, {
      inputs: { gateway: gateway.url, "tailscale-client-id": "kABC", agents: "claude" },
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
    const tail = ts.calls().slice(-2);
    assert.deepEqual(tail, [
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
    issuer.endpointClaims = eventClaims("push");
    const main = await runStep("main", job, {
      inputs: { gateway: gateway.url, join: "none", agents: "openai" },
      env: oidcEnv(),
      path: [ts.binDir],
    });
    assert.equal(main.code, 0, main.log);
    assert.equal(new Set(main.masked).size, 1, "only the gateway token was minted");
    assert.equal(main.exported.OPENAI_BASE_URL, `${gateway.url}/v1`);
    const post = await runStep("post", job, { path: [ts.binDir] });
    assert.equal(post.code, 0);
    assert.deepEqual(ts.calls(), []);
    assert.ok(gateway.finished.includes(main.outputs["session-id"]!));
  });
});

describe("provider-mode", () => {
  for (const [mode, expected] of [
    ["bedrock", { CLAUDE_CODE_USE_BEDROCK: "1", ANTHROPIC_BEDROCK_BASE_URL: "/bedrock", CLAUDE_CODE_SKIP_BEDROCK_AUTH: "1", AWS_REGION: "us-east-1" }],
    ["vertex", { CLAUDE_CODE_USE_VERTEX: "1", ANTHROPIC_VERTEX_BASE_URL: "/v1", CLAUDE_CODE_SKIP_VERTEX_AUTH: "1", ANTHROPIC_VERTEX_PROJECT_ID: "keyless", CLOUD_ML_REGION: "us-east5" }],
  ] as const) {
    test(`${mode} points Claude Code at the gateway's ${mode} routes`, async () => {
      const job = newJob();
      issuer.endpointClaims = eventClaims("push");
      const r = await runStep("main", job, {
        inputs: { gateway: gateway.url, join: "none", agents: "claude", "provider-mode": mode },
        env: oidcEnv(),
      });
      assert.equal(r.code, 0, r.log);
      for (const [k, v] of Object.entries(expected)) {
        assert.equal(r.exported[k], v.startsWith("/") ? gateway.url + v : v, k);
      }
      assert.equal(r.outputs["claude-base-url"], gateway.url + (mode === "bedrock" ? "/bedrock" : "/v1"));
    });
  }

  test("bedrock keeps an AWS_REGION the job already set", async () => {
    const job = newJob();
    issuer.endpointClaims = eventClaims("push");
    const r = await runStep("main", job, {
      inputs: { gateway: gateway.url, join: "none", agents: "claude", "provider-mode": "bedrock" },
      env: { ...oidcEnv(), AWS_REGION: "eu-west-1" },
    });
    assert.equal(r.code, 0, r.log);
    assert.equal(r.exported.AWS_REGION, undefined);
  });
});

describe("Gemini CLI", () => {
  test("keeps the user's other settings when selecting API-key auth", async () => {
    const job = newJob();
    mkdirSync(join(job.home, ".gemini"));
    const file = join(job.home, ".gemini", "settings.json");
    writeFileSync(file, JSON.stringify({ ui: { theme: "dark" }, security: { folderTrust: { enabled: false } } }));
    issuer.endpointClaims = eventClaims("push");
    const r = await runStep("main", job, { inputs: { gateway: gateway.url, join: "none", agents: "gemini" }, env: oidcEnv() });
    assert.equal(r.code, 0, r.log);
    assert.deepEqual(JSON.parse(readFileSync(file, "utf8")), {
      ui: { theme: "dark" },
      security: { folderTrust: { enabled: false }, auth: { selectedType: "gemini-api-key" } },
    });
  });
});
