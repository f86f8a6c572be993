// runMain/runPost in-process with injected deps, for what the bundled runs cannot reach as root: a runner user that
// needs sudo for tailscaled, tailscale up, logout and stopping the daemon.
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { RunContext } from "../../action/context.js";
import type { Core, Exec, ExecResult } from "../../action/deps.js";
import { readInputs } from "../../action/inputs.js";
import { runMain } from "../../action/main.js";
import { runPost } from "../../action/post.js";
import { readState } from "../../action/state.js";
import type { Session } from "../../src/ci-session.js";

const SESSION: Session = {
  id: "ses_1", node_id: "n1", repository: "acme/api", repository_id: "1", owner: "acme", owner_id: "2", pr_number: null,
  head_sha: null, sha: "a".repeat(40), run_id: "9", run_attempt: "1", workflow: "ci", job: "review", actor: "octocat",
  event: "push", ref: "refs/heads/main", started_at: "2026-11-26T00:00:00Z", finished_at: null, finish_reason: null,
  check_run_id: null, check_run_url: null,
};

function world() {
  const commands: string[] = [];
  const state = new Map<string, string>();
  let backend: string | null = null; // no daemon yet
  const ok = (stdout = ""): ExecResult => ({ exitCode: 0, stdout, stderr: "" });
  const exec: Exec = async (cmd, args) => {
    commands.push([cmd, ...args].join(" ").replace(/file:\S+/g, "file:CREDENTIAL"));
    const sub = args[0] === "-E" ? args.slice(2) : args;
    if (sub[0] === "version") return ok("1.94.2\n");
    if (sub[0] === "status") return backend ? ok(JSON.stringify({ BackendState: backend })) : { exitCode: 1, stdout: "", stderr: "not running" };
    if (sub[0] === "up") backend = "Running";
    return ok();
  };
  const core: Core = {
    getIDToken: async (aud) => `header.${Buffer.from(JSON.stringify({ aud, sub: "repo:acme/api:ref:refs/heads/main" })).toString("base64url")}.sig`,
    setSecret: () => {},
    exportVariable: () => {},
    setOutput: () => {},
    saveState: (k, v) => void state.set(k, v),
    addPath: () => {},
    info: () => {},
    warning: (m) => assert.fail(`unexpected warning: ${m}`),
    debug: () => {},
  };
  const fetchFn = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = String(input);
    commands.push(`${init?.method ?? "GET"} ${new URL(url).pathname}`);
    if (url.endsWith("/healthz")) return Response.json({ ok: true });
    if (url.endsWith("/v1/ci/sessions")) return Response.json({ session: SESSION, resumed: false }, { status: 201 });
    if (url.endsWith("/finish")) return Response.json({ session: SESSION });
    return Response.json({ error: { code: "nope", message: "no summary here" } }, { status: 404 });
  }) as typeof fetch;
  const which = async (tool: string) => ({ sudo: "/usr/bin/sudo", tailscale: "/usr/bin/tailscale", tailscaled: "/usr/sbin/tailscaled" })[tool] ?? null;
  const spawnDetached = (cmd: string, args: readonly string[]) => {
    commands.push(`spawn ${[cmd, ...args].join(" ")}`);
    backend = "NeedsLogin";
    return 4242;
  };
  return { commands, state, exec, core, fetchFn, which, spawnDetached };
}

test("a non-root runner goes through sudo for the daemon, up, logout and stop; status needs no sudo", async () => {
  const w = world();
  const dir = mkdtempSync(join(tmpdir(), "keyless-inproc-"));
  const ctx: RunContext = {
    repository: "acme/api", runId: "9", runAttempt: "1", job: "review", actor: "octocat", eventName: "push", payload: {},
    runnerTemp: dir, home: dir, platform: "linux", arch: "x64", oidcAvailable: true, isRoot: false, presetEnv: {},
  };
  const inputs = readInputs((n) => ({ gateway: "http://ai-gateway", "oauth-client-id": "kX", agents: "none" })[n] ?? "");
  const clock = { now: () => 0, sleep: async () => {} };
  const toolCache = { find: () => "", downloadTool: async () => assert.fail("no download"), extractTar: async () => "", cacheDir: async () => "" };
  await runMain(inputs, ctx, { core: w.core, exec: w.exec, which: w.which, spawnDetached: w.spawnDetached, toolCache, fetch: w.fetchFn, clock, node: "node", proxyScript: "proxy.js" });
  assert.deepEqual(w.commands, [
    "/usr/bin/tailscale version",
    "/usr/bin/tailscale status --json",
    "spawn /usr/bin/sudo -E /usr/sbin/tailscaled --state=mem:",
    "/usr/bin/tailscale status --json",
    "/usr/bin/sudo -E /usr/bin/tailscale up --client-id=kX?ephemeral=true&preauthorized=true --id-token=file:CREDENTIAL --advertise-tags=tag:ci-acme-api --hostname=ci-api-9-1 --timeout=120s",
    "GET /healthz",
    "POST /v1/ci/sessions",
  ]);
  assert.equal(w.state.get("sudo"), "/usr/bin/sudo");

  w.commands.length = 0;
  const warnings: string[] = [];
  await runPost(readState((k) => w.state.get(k) ?? ""), {
    core: { info: () => {}, warning: (m) => void warnings.push(m) },
    exec: w.exec,
    fetch: w.fetchFn,
    writeSummary: async () => assert.fail("no summary to write"),
  });
  assert.deepEqual(w.commands, [
    "POST /v1/ci/sessions/ses_1/finish",
    "GET /v1/ci/sessions/ses_1/summary",
    "/usr/bin/sudo -E /usr/bin/tailscale logout",
    "/usr/bin/sudo kill 4242",
    "/usr/bin/sudo -E /usr/sbin/tailscaled --cleanup",
  ]);
  assert.deepEqual(warnings, ["keyless could not write the job summary: fetching the summary of session ses_1 failed: HTTP 404 nope: no summary here"]);
});
