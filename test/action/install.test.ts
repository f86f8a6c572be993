// Installing tailscale when the runner has none: pinned version from the package server, sha256 verified, cached with
// tool-cache and reused by later jobs on the same runner.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, test } from "node:test";
import { tarballArch } from "../../action/tailscale.js";
import { eventClaims, startOidcIssuer, type FakeOidcIssuer } from "../fakes/oidc-issuer.js";
import { fakeTailscale } from "./fake-tailscale.js";
import { startGateway, type TestGateway } from "./gateway.js";
import { commandText, newJob, runStep } from "./runner.js";

const arch = tarballArch(process.arch);
let issuer: FakeOidcIssuer;
let gateway: TestGateway;
let pkgs: Server;
let pkgsUrl: string;
const hits: string[] = [];
const files = new Map<string, Buffer>();
let tools: ReturnType<typeof fakeTailscale>;

/** A release tarball laid out like Tailscale's: tailscale_<v>_<arch>/{tailscale,tailscaled}, holding the stand-ins. */
function packRelease(version: string): Buffer {
  const dir = mkdtempSync(join(tmpdir(), "keyless-pkg-"));
  const name = `tailscale_${version}_${arch}`;
  mkdirSync(join(dir, name));
  for (const tool of ["tailscale", "tailscaled"]) cpSync(join(tools.binDir, tool), join(dir, name, tool));
  execFileSync("tar", ["czf", join(dir, `${name}.tgz`), "-C", dir, name]);
  return readFileSync(join(dir, `${name}.tgz`));
}

before(async () => {
  issuer = await startOidcIssuer({ endpointClaims: eventClaims("push") });
  gateway = await startGateway({ issuer });
  tools = fakeTailscale(mkdtempSync(join(tmpdir(), "keyless-tools-")));
  for (const [version, track] of [["1.94.2", "stable"], ["1.95.7", "unstable"]] as const) {
    const tgz = packRelease(version);
    const path = `/${track}/tailscale_${version}_${arch}.tgz`;
    files.set(path, tgz);
    files.set(`${path}.sha256`, Buffer.from(`${createHash("sha256").update(tgz).digest("hex")}\n`));
    // The track's index as pkgs.tailscale.com serves it (fields trimmed to a few).
    const index = { Tarballs: { [arch]: `tailscale_${version}_${arch}.tgz` }, TarballsVersion: version, Version: version };
    files.set(`/${track}/?mode=json`, Buffer.from(JSON.stringify(index)));
  }
  pkgs = createServer((req, res) => {
    hits.push(req.url ?? "");
    const body = files.get(req.url ?? "");
    if (!body) return void res.writeHead(404).end("not found");
    res.writeHead(200, { "content-length": body.length }).end(body);
  });
  await new Promise<void>((resolve) => pkgs.listen(0, "127.0.0.1", resolve));
  pkgsUrl = `http://127.0.0.1:${(pkgs.address() as AddressInfo).port}`;
});
after(async () => {
  pkgs.close();
  await gateway.close();
  await issuer.close();
});

beforeEach(() => tools.resetState());

const env = () => ({ ACTIONS_ID_TOKEN_REQUEST_URL: issuer.requestUrl, ACTIONS_ID_TOKEN_REQUEST_TOKEN: issuer.requestToken });
const inputs = (extra: Record<string, string> = {}) => ({
  gateway: gateway.url,
  "oauth-client-id": "kX",
  "tailscale-download-url": pkgsUrl,
  agents: "none",
  ...extra,
});

test("downloads the pinned version, checks the published sha256, caches it and puts it on PATH; the next job reuses it", async () => {
  const job = newJob();
  const r = await runStep("main", job, { inputs: inputs(), env: env() });
  assert.equal(r.code, 0, r.log);
  const path = `/stable/tailscale_1.94.2_${arch}.tgz`;
  assert.deepEqual(hits.filter((h) => h.startsWith("/stable/")), [`${path}.sha256`, path]);
  const cached = join(job.toolCache, "tailscale", "1.94.2", arch);
  assert.ok(existsSync(join(cached, "tailscale")));
  assert.deepEqual(r.paths, [cached]);
  assert.equal(r.state.tailscale, join(cached, "tailscale"));
  assert.ok(tools.calls().some((c) => c.tool === "tailscale" && c.args[0] === "up"), "the installed tailscale ran up");
  assert.match(r.log, /Installed tailscale 1\.94\.2 \(sha256 [0-9a-f]{64}\)/);

  // A later job on the same runner (same tool cache) downloads nothing.
  const before = hits.length;
  tools.resetState();
  const next = newJob();
  const again = await runStep("main", { ...next, toolCache: job.toolCache }, { inputs: inputs(), env: env() });
  assert.equal(again.code, 0, again.log);
  assert.equal(hits.length, before);
  assert.match(again.log, /Using cached tailscale 1\.94\.2/);
});

test("odd minor versions come from the unstable track", async () => {
  const job = newJob();
  const r = await runStep("main", job, { inputs: inputs({ version: "1.95.7" }), env: env() });
  assert.equal(r.code, 0, r.log);
  assert.ok(hits.includes(`/unstable/tailscale_1.95.7_${arch}.tgz`));
});

test("a download whose sha256 differs from sha256sum is refused and not cached", async () => {
  const job = newJob();
  const wrong = "0".repeat(64);
  const r = await runStep("main", job, { inputs: inputs({ sha256sum: wrong }), env: env() });
  assert.equal(r.code, 1);
  const msg = commandText(r.errors[0] ?? "");
  assert.match(msg, new RegExp(`has sha256 [0-9a-f]{64}, expected ${wrong}; refusing to run it`));
  assert.ok(!existsSync(join(job.toolCache, "tailscale")), "nothing cached");
  assert.deepEqual(r.paths, []);
});

test("a version the server does not have fails with the checksum URL", async () => {
  const job = newJob();
  const r = await runStep("main", job, { inputs: inputs({ version: "1.94.9" }), env: env() });
  assert.equal(r.code, 1);
  assert.match(commandText(r.errors[0] ?? ""), /could not fetch the published checksum http:\/\/127\.0\.0\.1:\d+\/stable\/tailscale_1\.94\.9_\w+\.tgz\.sha256 \(HTTP 404\); set sha256sum to pin it/);
});

test("use-cache: false neither reads nor fills the tool cache", async () => {
  const job = newJob();
  const first = await runStep("main", job, { inputs: inputs(), env: env() });
  assert.equal(first.code, 0, first.log);
  tools.resetState();
  const before = hits.length;
  const r = await runStep("main", { ...newJob(), toolCache: job.toolCache }, { inputs: inputs({ "use-cache": "false" }), env: env() });
  assert.equal(r.code, 0, r.log);
  assert.equal(hits.length, before + 2, "downloaded again (checksum and tarball) despite the cached copy");
  assert.doesNotMatch(r.log, /Using cached tailscale/);
  assert.equal(r.paths.length, 1);
  assert.ok(!r.paths[0]!.startsWith(job.toolCache), `run from the extracted download, not the tool cache (${r.paths[0]})`);
});

test("version latest and unstable install what the package server's track index names", async () => {
  for (const [version, track, resolved] of [["latest", "stable", "1.94.2"], ["unstable", "unstable", "1.95.7"]] as const) {
    tools.resetState();
    const r = await runStep("main", newJob(), { inputs: inputs({ version }), env: env() });
    assert.equal(r.code, 0, r.log);
    assert.match(r.log, new RegExp(`version ${version} is tailscale ${resolved.replace(/\./g, "\\.")}`));
    assert.ok(hits.includes(`/${track}/?mode=json`));
    assert.ok(hits.includes(`/${track}/tailscale_${resolved}_${arch}.tgz`));
  }
});

test("a track index the server does not have fails, naming its URL", async () => {
  const r = await runStep("main", newJob(), { inputs: inputs({ version: "latest", "tailscale-download-url": `${pkgsUrl}/mirror` }), env: env() });
  assert.equal(r.code, 1);
  assert.match(commandText(r.errors[0] ?? ""), /could not resolve version "latest" from http:\/\/127\.0\.0\.1:\d+\/mirror\/stable\/\?mode=json \(HTTP 404\); pin an exact version/);
});
