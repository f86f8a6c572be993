// The Action's tailscale steps against the real CLI of the pinned version: its own `up` (every flag it passes:
// --client-id with ?ephemeral&preauthorized, --id-token, --advertise-tags, --hostname, --timeout, extra args) and
// `logout`, executed for real. The lab serves the workload identity federation endpoints `tailscale up` calls on its
// --login-server, so the whole join runs: token exchange, auth key creation, registration with the derived tags.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type Binaries, type TailscaleDeps, backendState, deriveHostname, ensureDaemon, logout, up } from "../../action/tailscale.js";
import { parseConfigText } from "../../gateway/config/load.js";
import { type RunningGateway, startGateway } from "../../gateway/server.js";
import { runClaims } from "../action/gateway.js";
import { type Job, type StepOptions, type StepResult, newJob } from "../action/runner.js";
import { type FakeOidcIssuer, startOidcIssuer } from "../fakes/oidc-issuer.js";
import { type FakeUpstream, startFakeUpstream } from "../fakes/upstream.js";
import { KEYS, defaultProviders } from "../helpers/gateway.js";
import { Tailnet, type TailscaleNode, waitFor } from "./tailnet.js";
import { one } from "../helpers/store.js";

describe("the Action's tailscale up/logout against the real CLI", { timeout: 120_000 }, () => {
  let tailnet: Tailnet;
  let runner: TailscaleNode;
  let bin: Binaries;
  const logs: string[] = [];

  before(async () => {
    tailnet = await Tailnet.start({ "tag:ci-acme-api": [] });
    runner = await tailnet.startNode({ hostname: "runner" });
    // The real CLI, pointed at this runner's tailscaled (the Action uses the default socket of a root tailscaled).
    const dir = mkdtempSync(join(tmpdir(), "keyless-action-bin-"));
    const tailscale = join(dir, "tailscale");
    writeFileSync(tailscale, `#!/bin/sh\nexec '${tailnet.bins.tailscale}' --socket='${runner.socket}' "$@"\n`);
    chmodSync(tailscale, 0o755);
    bin = { tailscale, tailscaled: tailnet.bins.tailscaled, sudo: "" };
  });

  after(async () => {
    await tailnet?.close();
  });

  const deps = {
    exec: (cmd: string, args: readonly string[]) =>
      new Promise((resolve) => {
        execFile(cmd, [...args], { timeout: 60_000 }, (err, stdout, stderr) =>
          resolve({ exitCode: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
      }),
    log: { info: (m: string) => logs.push(m), warning: (m: string) => logs.push(m) },
    // up and logout use only exec and log; the install and daemon deps are not part of this test.
  } as unknown as TailscaleDeps;

  test("up joins with the derived tags and hostname through workload identity federation; logout leaves", async () => {
    const hostname = deriveHostname("acme/api", "4242", "1");
    const idToken = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOmFjbWUvYXBpIn0.c2ln";
    // The Action's daemon probe reads the real `tailscale status --json`: a daemon answers, so none is started.
    assert.equal(await backendState(bin, deps), "NeedsLogin");
    assert.equal(await ensureDaemon(bin, { logFile: join(runner.dir, "unused.log"), statedir: "", extraArgs: [] }, deps), null);
    await up(
      bin,
      {
        credential: { kind: "federated", clientId: "lab-client-1", idToken: () => Promise.resolve(idToken) },
        tags: ["tag:ci-acme-api"],
        hostname,
        timeoutMs: 60_000,
        extraArgs: [`--login-server=${tailnet.info.controlURL}`],
        attempts: 1,
        tempDir: runner.dir,
      },
      deps,
    );
    // What the real CLI asked the control server's API for.
    assert.deepEqual(await tailnet.keyRequests(), [{ clientId: "lab-client-1", idToken, ephemeral: true, preauthorized: true, tags: ["tag:ci-acme-api"] }]);
    const node = (await tailnet.labNodes()).find((n) => n.hostname === hostname);
    assert.ok(node, `a node named ${hostname} joined`);
    assert.deepEqual(node.tags, ["tag:ci-acme-api"]);
    assert.ok(!logs.join("\n").includes(idToken), "the Action's log never shows the ID token");
    assert.equal(await backendState(bin, deps), "Running");

    await logout(bin, deps);
    await waitFor("the runner's tailscaled to log out", async () => {
      const state = (JSON.parse(await runner.cli("status", "--json")) as { BackendState: string }).BackendState;
      return state === "NeedsLogin" ? state : undefined;
    });
    // testcontrol does not model ephemeral nodes: it keeps the node after logout, where Tailscale's control removes it.
    const kept = (await tailnet.labNodes()).some((n) => n.hostname === hostname);
    console.log(`# after logout the test control server ${kept ? "still lists" : "removed"} the ephemeral node`);
  });
});

describe("the bundled Action's main and post on a runner whose traffic goes over the real tailnet (kernel TUN)", { timeout: 120_000 }, () => {
  let tailnet: Tailnet;
  let gw: TailscaleNode;
  let runner: TailscaleNode;
  let issuer: FakeOidcIssuer;
  let upstream: FakeUpstream;
  let gateway: RunningGateway;
  let wrappers: string;

  before(async () => {
    tailnet = await Tailnet.start({ "tag:ai-gateway": [], "tag:ci-acme-api": [] });
    issuer = await startOidcIssuer();
    issuer.endpointClaims = runClaims("push");
    upstream = await startFakeUpstream({ keys: KEYS });
    gw = await tailnet.addNode({ hostname: "ai-gateway", tags: ["tag:ai-gateway"] });
    const config = {
      identity: { type: "tailscale", socket: gw.socket },
      providers: defaultProviders(upstream.url),
      grants: [{ src: ["tag:ci-acme-api"], app: { "keyless.dev/cap/gateway": [{ role: "user", models: "**" }] } }],
      github: { oidc: { issuer: issuer.issuer, audience: "keyless" }, repos: { "acme/api": { tags: ["tag:ci-acme-api"] } } },
      database: { path: join(mkdtempSync(join(tmpdir(), "keyless-action-tailnet-")), "keyless.db") },
    };
    gateway = await startGateway({ loaded: parseConfigText(JSON.stringify(config), {}), listen: "127.0.0.1:0", log: () => undefined });
    // The runner: a kernel TUN node in its own namespace, the OIDC token endpoint bridged in as on a hosted runner.
    runner = await tailnet.startNode({ hostname: "runner", kernelTun: true, bridgePorts: [Number(new URL(issuer.requestUrl).port)] });
    wrappers = mkdtempSync(join(tmpdir(), "keyless-action-path-"));
    writeFileSync(join(wrappers, "tailscale"), `#!/bin/sh\nexec '${tailnet.bins.tailscale}' --socket='${runner.socket}' "$@"\n`);
    chmodSync(join(wrappers, "tailscale"), 0o755);
  });

  after(async () => {
    await gateway?.close(1000);
    await upstream?.close();
    await issuer?.close();
    await tailnet?.close();
  });

  /** One step of dist/, run by test/action/runner.ts inside the runner's network namespace. */
  async function step(entry: "main" | "post", job: Job, options: StepOptions): Promise<{ result: StepResult; job: Job }> {
    const child = runner.spawnInside(process.execPath, ["--import", "tsx", join(import.meta.dirname, "action-step.ts"), entry], "pipe");
    child.stdin?.end(JSON.stringify({ job, options }));
    const chunks: Buffer[] = [];
    child.stdout?.on("data", (c: Buffer) => chunks.push(c));
    const code = await new Promise<number | null>((r) => child.once("exit", r));
    assert.equal(code, 0, `action-step ${entry} exited ${code}`);
    return JSON.parse(Buffer.concat(chunks).toString()) as { result: StepResult; job: Job };
  }

  test("main joins with the derived tags and hostname and registers the CI session; post logs out", async () => {
    const options: StepOptions = {
      inputs: {
        gateway: `http://${gw.ip}:${gateway.port}`,
        "oauth-client-id": "lab-client-2",
        args: `--login-server=${tailnet.info.controlURL} --accept-dns=false`,
      },
      env: { ACTIONS_ID_TOKEN_REQUEST_URL: issuer.requestUrl, ACTIONS_ID_TOKEN_REQUEST_TOKEN: issuer.requestToken },
      path: [wrappers],
      timeoutMs: 90_000,
    };
    const main = await step("main", newJob(), options);
    assert.equal(main.result.code, 0, main.result.log);
    const node = (await tailnet.labNodes()).find((n) => n.hostname === "ci-api-9876543210-1");
    assert.ok(node, "the runner joined under the derived hostname");
    assert.deepEqual(node.tags, ["tag:ci-acme-api"]);
    const keyRequest = (await tailnet.keyRequests()).find((k) => k.clientId === "lab-client-2");
    assert.deepEqual(keyRequest && { ephemeral: keyRequest.ephemeral, preauthorized: keyRequest.preauthorized }, { ephemeral: true, preauthorized: true });
    // The gateway registered the job only after the real WhoIs showed the runner's node carrying the mapped tag.
    const sessionId = main.result.outputs["session-id"] ?? "";
    const session = (await one(gateway.store, "SELECT node_id, repository FROM ci_sessions WHERE id = ?", sessionId)) as { node_id: string; repository: string } | undefined;
    assert.deepEqual(session, { node_id: node.id, repository: "acme/api" }, main.result.log);
    for (const key of Object.values(KEYS)) assert.ok(!main.result.log.includes(key));

    const post = await step("post", main.job, options);
    assert.equal(post.result.code, 0, post.result.log);
    assert.equal((JSON.parse(await runner.cli("status", "--json")) as { BackendState: string }).BackendState, "NeedsLogin");
  });
});
