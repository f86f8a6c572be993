// `keyless doctor` (the real CLI, as a process) against a real tailnet node, and against broken setups.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { after, before, describe, test } from "node:test";
import { type FakeGitHub, startFakeGitHub } from "../fakes/github.js";
import { appKeyPair } from "../github/app-key.js";
import { KEYS } from "../helpers/gateway.js";
import { createTestDatabase } from "../helpers/postgres.js";
import { Tailnet, type TailscaleNode, freePort } from "./tailnet.js";

const run = promisify(execFile);
const CLI = join(import.meta.dirname ?? new URL(".", import.meta.url).pathname, "../../gateway/cli.ts");

async function doctor(config: Record<string, unknown>, ...args: string[]): Promise<{ code: number; out: string }> {
  const file = join(mkdtempSync(join(tmpdir(), "keyless-doctor-")), "keyless.jsonc");
  writeFileSync(file, JSON.stringify(config));
  try {
    const { stdout } = await run(process.execPath, ["--import", "tsx", CLI, "doctor", "--config", file, ...args], { timeout: 60_000 });
    return { code: 0, out: stdout };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, out: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

const line = (out: string, name: string) => out.split("\n").find((l) => new RegExp(`^(ok|FAIL|skip)\\s+${name}\\s`).test(l)) ?? `(no line for ${name})`;

describe("keyless doctor", { timeout: 120_000 }, () => {
  let tailnet: Tailnet;
  let gw: TailscaleNode;
  let alice: TailscaleNode;
  let listening: http.Server;
  let issuer: http.Server;
  let listen: string;
  let issuerUrl: string;

  before(async () => {
    tailnet = await Tailnet.start({ "tag:ai-gateway": [] });
    [gw, alice] = await Promise.all([tailnet.addNode({ hostname: "ai-gateway", tags: ["tag:ai-gateway"] }), tailnet.addNode({ hostname: "alice" })]);
    // Stands in for a running `keyless serve`: the doctor only needs something answering on the listen address.
    listening = http.createServer((_, res) => res.end("{}"));
    await new Promise<void>((r) => listening.listen(0, "127.0.0.1", r));
    listen = `127.0.0.1:${(listening.address() as AddressInfo).port}`;
    // A fake OIDC issuer with the JWKS shape GitHub serves.
    issuer = http.createServer((req, res) => {
      res.setHeader("content-type", "application/json");
      res.end(req.url === "/.well-known/jwks" ? JSON.stringify({ keys: [{ kty: "RSA", kid: "k1", n: "AQAB", e: "AQAB" }] }) : "{}");
    });
    await new Promise<void>((r) => issuer.listen(0, "127.0.0.1", r));
    issuerUrl = `http://127.0.0.1:${(issuer.address() as AddressInfo).port}`;
  });

  after(async () => {
    await new Promise((r) => listening?.close(r));
    await new Promise((r) => issuer?.close(r));
    await tailnet?.close();
  });

  const healthy = () => ({
    listen,
    identity: { type: "tailscale", socket: gw.socket },
    providers: { anthropic: { type: "anthropic", baseurl: "http://127.0.0.1:9", apikey: KEYS.anthropic, models: ["claude-*"] } },
    github: { oidc: { issuer: issuerUrl } },
  });

  test("a healthy gateway node: every check passes, exit 0", async () => {
    const { code, out } = await doctor(healthy());
    console.log(out.replace(/^/gm, "# "));
    assert.equal(code, 0, out);
    assert.match(line(out, "tailscaled"), /^ok .*userspace networking/);
    assert.match(line(out, "this node"), new RegExp(`^ok .*ai-gateway\\.\\S+ ${gw.ip.replaceAll(".", "\\.")}, tags tag:ai-gateway`));
    assert.match(line(out, "tailnet reach"), new RegExp(`^ok .*${gw.ip.replaceAll(".", "\\.")}:\\d+ → tailscaled \\(userspace networking\\) → 127\\.0\\.0\\.1`));
    assert.match(line(out, "provider anthropic"), /^ok /);
    assert.match(line(out, "oidc issuer"), /^ok .*1 signing keys/);
    assert.match(line(out, "github app"), /^skip /);
    assert.ok(!out.includes(KEYS.anthropic), "the doctor never prints a key");
  });

  test("broken setups: one FAIL line with its fix per problem, exit 1", async () => {
    const dead = await freePort();
    const { code, out } = await doctor({
      listen: `127.0.0.1:${dead}`,
      identity: { type: "tailscale", socket: join(tmpdir(), "no-such-tailscaled.sock") },
      providers: { anthropic: { type: "anthropic", baseurl: "http://127.0.0.1:9", apikey: "", models: ["claude-*"] } },
      github: { oidc: { issuer: `http://127.0.0.1:${dead}` } },
      quota_store: { type: "postgres", url: `postgres://keyless:s3cret-pw@127.0.0.1:${dead}/keyless`, timeout: "2s" },
    });
    console.log(out.replace(/^/gm, "# "));
    assert.equal(code, 1);
    assert.match(line(out, "tailscaled"), /^FAIL .*unreachable .*fix: start tailscaled/);
    assert.match(line(out, "listen"), /^FAIL .*nothing answers .*fix: start keyless serve/);
    assert.match(line(out, "provider anthropic"), /^FAIL .*no credentials.*fix:/);
    assert.match(line(out, "oidc issuer"), /^FAIL .*unreachable.*fix:/);
    assert.match(line(out, "postgres"), /^FAIL .*127\.0\.0\.1:\d+\/keyless.*fix: check quota_store\.url/);
    assert.ok(!out.includes("s3cret-pw"), "the PostgreSQL password is never printed");
  });

  test("an untagged node, and a listen address userspace networking never forwards to", async () => {
    const { code, out } = await doctor({ ...healthy(), identity: { type: "tailscale", socket: alice.socket } });
    assert.equal(code, 1);
    assert.match(line(out, "this node"), /^FAIL .*untagged.*fix: tag the gateway's node/);
    const port = (listening.address() as AddressInfo).port;
    const wrong = await doctor(healthy(), "--listen", `${gw.ip}:${port}`);
    assert.equal(wrong.code, 1);
    assert.match(line(wrong.out, "listen"), /^FAIL /, "nothing local listens on the tailnet address in userspace mode");
  });

  test("a reachable PostgreSQL quota store passes", async () => {
    const db = await createTestDatabase();
    try {
      const { code, out } = await doctor({ ...healthy(), quota_store: { type: "postgres", url: db.url } });
      assert.equal(code, 0, out);
      assert.match(line(out, "postgres"), new RegExp(`^ok .*/${db.name} reachable`));
    } finally {
      await db.drop();
    }
  });

  test("GitHub App: installed on the mapped repository; a wrong key and a missing installation each fail", async () => {
    const keys = appKeyPair();
    const github: FakeGitHub = await startFakeGitHub({ appId: "123", publicKeyPem: keys.publicKey, repos: [{ owner: "acme", name: "api", id: 812345678, installation: 77, pulls: [] }] });
    try {
      const withApp = (privateKey: string, repo: string) => ({
        ...healthy(),
        github: { oidc: { issuer: issuerUrl }, api_url: github.url, app: { id: "123", private_key: privateKey }, repos: { [repo]: { tags: ["tag:ci-acme-api"] } } },
      });
      const good = await doctor(withApp(keys.privateKey, "acme/api"));
      assert.equal(good.code, 0, good.out);
      assert.match(line(good.out, "github app"), /^ok .*app 123 installed on acme\/api/);
      const wrongKey = await doctor(withApp(appKeyPair().privateKey, "acme/api"));
      assert.equal(wrongKey.code, 1);
      assert.match(line(wrongKey.out, "github app"), /^FAIL .*refused app 123 \(401\).*fix: check github\.app\.id/);
      assert.ok(!wrongKey.out.includes("PRIVATE KEY"));
      const notInstalled = await doctor(withApp(keys.privateKey, "acme/web"));
      assert.match(line(notInstalled.out, "github app"), /^FAIL .*not installed on acme\/web.*fix: install the GitHub App/);
    } finally {
      await github.close();
    }
  });

  test("tailscaled stopped: the doctor says so", async () => {
    await gw.stopDaemon();
    const { code, out } = await doctor(healthy());
    assert.equal(code, 1);
    assert.match(line(out, "tailscaled"), /^FAIL .*unreachable/);
  });
});
