import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Grant } from "../../gateway/config/grants.js";
import type { Identity } from "../../gateway/identity/types.js";
import { accessFor, allowsModel, applicableValues } from "../../gateway/access/grants.js";
import { globMatch } from "../../gateway/config/glob.js";

const CAP = "keyless.dev/cap/gateway";
const who = (over: Partial<Identity>): Identity => ({
  principal: "alice@example.com",
  login: "alice@example.com",
  nodeId: "n1",
  nodeName: null,
  tags: [],
  groups: [],
  capMap: {},
  addr: "100.1.1.1:1",
  ...over,
});
const grant = (src: string[], ...values: unknown[]): Grant => ({ src, app: { [CAP]: values } });
const access = (identity: Identity, grants: Grant[], useConfigGrants = true) => accessFor(identity, { capabilities: [CAP], configGrants: grants, useConfigGrants });

describe("model globs", () => {
  const rows: [string, string, boolean][] = [
    ["**", "anthropic/claude-opus-4-8", true],
    ["anthropic/**", "anthropic/claude-opus-4-8", true],
    ["anthropic/claude-*", "anthropic/claude-opus-4-8", true],
    ["anthropic/claude-*", "openai/claude-x", false],
    ["*/claude-sonnet*", "vertex/claude-sonnet-4-6", true],
    ["*", "anthropic/claude", false],
    ["bedrock/**", "bedrock/arn:aws:bedrock:us-east-1:1:inference-profile/us.anthropic.x", true],
    ["openai/gpt-5.5", "openai/gpt-5x5", false],
  ];
  for (const [glob, value, expected] of rows) it(`${glob} ${expected ? "matches" : "does not match"} ${value}`, () => assert.equal(globMatch(glob, value), expected));
});

describe("grants (Aperture semantics)", () => {
  it("deny by default", () => assert.equal(access(who({}), []).role, null));

  it("src matches login, tag, exact tag set, group, loopback and *", () => {
    const tagged = who({ principal: "tag:a,tag:b", login: null, tags: ["tag:a", "tag:b"] });
    assert.equal(access(tagged, [grant(["tag:b"], { role: "user" })]).role, "user");
    assert.equal(access(tagged, [grant(["tag:a,tag:b"], { role: "user" })]).role, "user");
    assert.equal(access(tagged, [grant(["tag:a,tag:c"], { role: "user" })]).role, null);
    assert.equal(access(who({ groups: ["group:eng"] }), [grant(["group:eng"], { role: "user" })]).role, "user");
    assert.equal(access(who({ principal: "(loopback)", login: null }), [grant(["(loopback)"], { role: "admin" })]).role, "admin");
    assert.equal(access(who({}), [grant(["*"], { role: "user" })]).role, "user");
    assert.equal(access(tagged, [grant(["tagged-devices"], { role: "admin" })]).role, null, "tagged-devices must not admit tagged nodes");
  });

  it("union of grants; admin beats user", () => {
    const a = access(who({}), [grant(["*"], { role: "user" }, { models: "openai/**" }), grant(["alice@example.com"], { role: "admin" }, { models: "anthropic/claude-*" })]);
    assert.equal(a.role, "admin");
    assert.ok(allowsModel(a, "openai/gpt-5"));
    assert.ok(allowsModel(a, "anthropic/claude-opus-4-8"));
    assert.ok(!allowsModel(a, "gemini/gemini-3"));
  });

  it("tailnet CapMap grants merge with config grants, and can be the only source", () => {
    const fromTailnet = who({ capMap: { [CAP]: [{ role: "user", models: "gemini/**" }] } });
    const configGrants = [grant(["*"], { role: "user", models: "openai/**" })];
    const merged = access(fromTailnet, configGrants);
    assert.ok(allowsModel(merged, "gemini/gemini-3") && allowsModel(merged, "openai/gpt-5"));
    const tailnetOnly = access(fromTailnet, configGrants, false);
    assert.ok(allowsModel(tailnetOnly, "gemini/gemini-3") && !allowsModel(tailnetOnly, "openai/gpt-5"));
  });

  it("invalid capability values grant nothing and are reported", () => {
    const a = access(who({ capMap: { [CAP]: [{ role: "superuser" }, { models: 7 }] } }), []);
    assert.equal(a.role, null);
    assert.equal(a.invalid.length, 2);
  });

  it("quotas apply from values whose models match, and from floating values", () => {
    const a = access(who({}), [grant(["*"], { role: "user" }, { models: "anthropic/**", quotas: [{ bucket: "a" }] }, { models: "openai/**", quotas: [{ bucket: "o" }] }, { quotas: [{ bucket: "all" }] })]);
    const buckets = applicableValues(a, "anthropic/claude-x").flatMap(({ value }) => value.quotas?.map((q) => q.bucket) ?? []);
    assert.deepEqual(buckets, ["a", "all"]);
  });
});
