import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CallerCache, callerUnder } from "../../gateway/access/caller.js";
import { parseConfigText } from "../../gateway/config/load.js";
import type { Identity } from "../../gateway/identity/types.js";

const CAP = "keyless.dev/cap/gateway";
const alice: Identity = {
  principal: "alice@example.com",
  login: "alice@example.com",
  nodeId: "n1",
  nodeName: null,
  tags: [],
  groups: [],
  capMap: {},
  addr: "100.1.1.1:1",
};

const config = parseConfigText(
  JSON.stringify({
    identity: { type: "local" },
    providers: { anthropic: { type: "anthropic", baseurl: "https://api.anthropic.com", apikey: "k", models: ["claude-*"] } },
    quotas: { daily: { capacity: "$10.00", rate: "$10.00/day" }, team: { capacity: "$100.00", rate: "$100.00/day" } },
    rate_limits: { "rpm:<user>": { requests: 10 } },
    hooks: { audit: { url: "https://hooks.example.com/a", secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" } },
    grants: [
      { src: ["alice@example.com"], app: { [CAP]: [{ role: "user" }, { models: "anthropic/claude-opus-*", quotas: [{ bucket: "daily" }], rate_limits: [{ bucket: "rpm:<user>" }], guardrails: { default: "block" } }] } },
      { src: ["*"], app: { [CAP]: [{ quotas: [{ bucket: "team" }], send_hooks: [{ name: "audit", events: ["tool_call"] }], add_headers: ["X-Team: core"] }] } },
    ],
  }),
  {},
).config;

describe("the Caller", () => {
  it("picks a model's grant values apart once: quota lines, rate limits, guardrail actions, hooks, headers", () => {
    const caller = callerUnder(alice, config);
    assert.equal(caller.role, "user");
    assert.equal(caller.readsMetrics, false);
    const opus = caller.entitlement("anthropic", "claude-opus-4-8");
    assert.equal(opus.modelKey, "anthropic/claude-opus-4-8");
    assert.equal(opus.allowed, true);
    assert.deepEqual(opus.quotas.map((q) => `${q.origin}:${q.ref.bucket}`), ["config#0:daily", "config#1:team"]);
    assert.deepEqual(opus.rateLimits, [{ origin: "config#0", bucket: "rpm:<user>" }]);
    assert.deepEqual(opus.guardrails, [{ default: "block" }]);
    assert.deepEqual(opus.hooks, [{ name: "audit", events: ["tool_call"] }]);
    assert.deepEqual(opus.addHeaders, ["X-Team: core"]);
    // A model no grant names: only the floating values apply, and it is not allowed.
    const sonnet = caller.entitlement("anthropic", "claude-sonnet-4-6");
    assert.equal(sonnet.allowed, false);
    assert.deepEqual(sonnet.quotas.map((q) => q.ref.bucket), ["team"]);
    assert.deepEqual(sonnet.rateLimits, []);
    assert.deepEqual(sonnet.guardrails, []);
  });

  it("is immutable and computed once per identity and config", () => {
    const cache = new CallerCache();
    const caller = cache.get(alice, config);
    assert.equal(cache.get(alice, config), caller);
    assert.notEqual(cache.get({ ...alice }, config), caller, "another identity value is another caller");
    assert.ok(Object.isFrozen(caller));
    assert.equal(caller.entitlement("anthropic", "claude-opus-4-8"), caller.entitlement("anthropic", "claude-opus-4-8"));
    assert.ok(Object.isFrozen(caller.entitlement("anthropic", "claude-opus-4-8")));
  });

  it("remembers a bounded number of models (model names are caller input)", () => {
    const caller = callerUnder(alice, config);
    for (let i = 0; i < 200; i++) caller.entitlement("anthropic", `claude-opus-${i}`);
    const first = caller.entitlement("anthropic", "claude-opus-0");
    assert.equal(caller.entitlement("anthropic", "claude-opus-0"), first, "an early model stays remembered");
    const late = caller.entitlement("anthropic", "claude-opus-199");
    assert.notEqual(caller.entitlement("anthropic", "claude-opus-199"), late, "past the bound, entitlements are recomputed");
    assert.deepEqual(caller.entitlement("anthropic", "claude-opus-199"), late);
  });
});
