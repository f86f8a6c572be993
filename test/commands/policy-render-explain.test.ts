// `keyless policy render` and `keyless policy explain`, run in-process on a config file.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parseHuJson } from "../../gateway/config/load.js";
import { runPolicyCommand } from "../../gateway/commands/policy.js";

const CAP = "keyless.dev/cap/gateway";
const CONFIG = `{
  // Provider keys stay unset on an admin's laptop: policy commands must not need them.
  "providers": {
    "anthropic": { "type": "anthropic", "baseurl": "https://api.anthropic.com", "apikey": "\${ANTHROPIC_API_KEY}", "models": ["claude-*"] },
    "openai": { "type": "openai", "baseurl": "https://api.openai.com", "apikey": "\${OPENAI_API_KEY}", "models": ["gpt-*"] },
  },
  "quotas": {
    "daily:<user>": { "capacity": "$10.00", "rate": "$5.00/day" },
    "pr:<repo>#<pr>": { "capacity": "$3.00", "rate": "$0/day" },
    "team": { "capacity": "$500.00", "rate": "$500.00/month" },
  },
  "grants": [
    { "src": ["tag:ci-acme-api"], "app": { "${CAP}": [
      { "role": "user", "models": "anthropic/**", "quotas": [{ "bucket": "daily:<user>" }, { "bucket": "pr:<repo>#<pr>" }] },
    ] } },
    { "src": ["*"], "app": { "${CAP}": [{ "quotas": [{ "bucket": "team" }] }] } },
    { "src": ["group:eng@example.com", "(loopback)", "tag:a,tag:b"], "app": { "${CAP}": [{ "role": "admin" }, { "models": "**" }] } },
  ],
  "github": { "repos": { "acme/api": { "tags": ["tag:ci-acme-api"] }, "acme/*": { "tags": ["tag:ci-<owner>-<repo>"] } } },
  "tailnet_policy": { "dst": ["tag:keyless"] },
}`;

function run(args: string[]): { code: number; out: string; err: string } {
  const dir = mkdtempSync(join(tmpdir(), "keyless-policy-"));
  const path = join(dir, "keyless.jsonc");
  writeFileSync(path, CONFIG);
  let out = "";
  let err = "";
  const code = runPolicyCommand([...args, "--config", path], { env: {}, out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

describe("keyless policy render", () => {
  it("prints tagOwners and dst-bearing grants that reproduce the config's grants, and says what it left out", () => {
    const { code, out, err } = run(["render"]);
    assert.equal(code, 0, err);
    const fragment = parseHuJson(out) as { tagOwners: Record<string, string[]>; grants: { src: string[]; dst: string[]; app: Record<string, unknown[]> }[] };
    assert.deepEqual(fragment.tagOwners, { "tag:ci-acme-api": ["autogroup:admin"], "tag:keyless": ["autogroup:admin"] });
    assert.equal(fragment.grants.length, 3);
    assert.ok(fragment.grants.every((g) => g.dst.length === 1 && g.dst[0] === "tag:keyless"), "tailnet grants without dst apply to nothing");
    assert.deepEqual(fragment.grants[0]!.app[CAP], [{ role: "user", models: "anthropic/**", quotas: [{ bucket: "daily:<user>" }, { bucket: "pr:<repo>#<pr>" }] }]);
    assert.deepEqual(fragment.grants[2]!.src, ["group:eng@example.com"]);
    assert.match(err, /src \(loopback\) left out/);
    assert.match(err, /src tag:a,tag:b left out: .*exactly these tags/);
    assert.match(out, /^\/\/ warning: grants\[2\]: src \(loopback\) left out/m);
  });

  it("takes dst and tag owners from flags, and refuses to render without a dst", () => {
    const flags = run(["render", "--dst", "tag:ai-gw", "--tag-owner", "group:platform@example.com"]);
    const fragment = parseHuJson(flags.out) as { tagOwners: Record<string, string[]>; grants: { dst: string[] }[] };
    assert.deepEqual(fragment.tagOwners["tag:ai-gw"], ["group:platform@example.com"]);
    assert.deepEqual(fragment.grants[0]!.dst, ["tag:ai-gw"]);
    const dir = mkdtempSync(join(tmpdir(), "keyless-policy-"));
    writeFileSync(join(dir, "c.jsonc"), "{}");
    let err = "";
    const code = runPolicyCommand(["render", "--config", join(dir, "c.jsonc")], { env: {}, out: () => undefined, err: (t) => (err += t) });
    assert.equal(code, 2);
    assert.match(err, /no destination: set tailnet_policy.dst in the config or pass --dst/);
  });
});

describe("keyless policy explain", () => {
  it("names the matching grants, the role and the buckets a request would be charged to", () => {
    const { code, out } = run(["explain", "--principal", "tag:ci-acme-api", "--model", "anthropic/claude-sonnet-4-6"]);
    assert.equal(code, 0);
    assert.match(out, /^grants +config#0 src tag:ci-acme-api → \{"role":"user"/m);
    assert.match(out, /^ +config#1 src \* → \{"quotas":\[\{"bucket":"team"\}\]\}/m);
    assert.match(out, /^role +user$/m);
    assert.match(out, /^access +allowed by config#0 \(anthropic\/\*\*\)$/m);
    assert.match(out, /^buckets +daily:tag:ci-acme-api \(quota daily:<user>: \$10\.00, refills \$5\.00\/day\)$/m);
    assert.match(out, /^ +pr:-#- \(quota pr:<repo>#<pr>/m);
    assert.match(out, /^ +team \(quota team: \$500\.00, refills \$500\.00\/month\)$/m);
    assert.match(out, /expand to - without a CI session/);
  });

  it("expands session templates from flags, resolves bare models, and reports denials", () => {
    const withSession = run(["explain", "--principal", "tag:ci-acme-api", "--model", "claude-opus-4-1", "--repo", "acme/api", "--pr", "42", "--json"]);
    const e = JSON.parse(withSession.out) as { modelKey: string; allowed: boolean; buckets: { bucket: string }[] };
    assert.equal(e.modelKey, "anthropic/claude-opus-4-1");
    assert.equal(e.allowed, true);
    assert.deepEqual(e.buckets.map((b) => b.bucket), ["daily:tag:ci-acme-api", "pr:acme/api#42", "team"]);
    const denied = run(["explain", "--principal", "tag:ci-acme-api", "--model", "gpt-5"]);
    assert.match(denied.out, /^access +denied: no grant allows openai\/gpt-5$/m);
    assert.match(denied.out, /^buckets +none: the request is refused before any reservation$/m);
    const stranger = run(["explain", "--principal", "mallory@example.com", "--model", "gpt-5"]);
    assert.match(stranger.out, /^role +none/m);
    const admin = run(["explain", "--principal", "bob@example.com", "--group", "group:eng@example.com", "--model", "gpt-5"]);
    assert.match(admin.out, /^role +admin$/m);
    const usage = run(["explain", "--model", "gpt-5"]);
    assert.equal(usage.code, 2);
  });
});
