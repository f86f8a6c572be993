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
import { Tailnet, type TailscaleNode, waitFor } from "./tailnet.js";

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
    assert.equal(await ensureDaemon(bin, join(runner.dir, "unused.log"), deps), null);
    await up(
      bin,
      { clientId: "lab-client-1", idToken, tags: ["tag:ci-acme-api"], hostname, timeoutMs: 60_000, extraArgs: [`--login-server=${tailnet.info.controlURL}`] },
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
