// One zod parse of all inputs: defaults, normalisation, and messages that name the input.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ActionError } from "../../action/errors.js";
import { readInputs } from "../../action/inputs.js";
import { resolveTags } from "../../action/main.js";

const read = (given: Record<string, string>) => readInputs((n) => given[n] ?? "");

test("defaults match action.yml", () => {
  const i = read({ gateway: "http://ai-gateway/", "tailscale-client-id": "kX" });
  assert.equal(i.gateway, "http://ai-gateway");
  assert.equal(i.tailscaleAudience, "api.tailscale.com/kX");
  assert.equal(i.gatewayAudience, "keyless");
  assert.deepEqual(i.tags, ["tag:ci-<owner>-<repo>"]);
  assert.equal(i.tailscaleVersion, "1.94.2");
  assert.equal(i.join, "tailscale");
  assert.deepEqual(i.agents, ["claude", "codex", "gemini", "openai"]);
  assert.equal(i.providerMode, "anthropic");
  assert.equal(i.localProxy, false);
  assert.equal(i.onMissingOidc, "fail");
  assert.equal(i.timeoutMs, 120_000);
});

test("lists, booleans and numbers are parsed", () => {
  const i = read({ gateway: "https://gw.example/keyless", join: "none", agents: "Claude, codex\ncodex", "local-proxy": "TRUE", timeout: "30", "tailscale-args": "--accept-routes --netfilter-mode=off" });
  assert.deepEqual(i.agents, ["claude", "codex"]);
  assert.equal(i.localProxy, true);
  assert.equal(i.timeoutMs, 30_000);
  assert.deepEqual(i.tailscaleArgs, ["--accept-routes", "--netfilter-mode=off"]);
  assert.deepEqual(read({ gateway: "http://g", join: "none", agents: "none" }).agents, []);
});

test("bad inputs are named in one message", () => {
  const err = (given: Record<string, string>) => {
    try {
      read(given);
    } catch (e) {
      assert.ok(e instanceof ActionError);
      return e.message;
    }
    assert.fail("expected an error");
  };
  assert.equal(err({}), 'input "gateway" is required');
  assert.match(err({ gateway: "ai-gateway", join: "none" }), /input "gateway" must be a URL such as http:\/\/ai-gateway/);
  assert.match(err({ gateway: "http://u:p@gw", join: "none" }), /must not contain credentials/);
  const many = err({ gateway: "http://gw", join: "maybe", agents: "claude,cursor", "local-proxy": "yes", timeout: "1m" });
  assert.match(many, /input "join" must be one of tailscale, none/);
  assert.match(many, /input "agents" unknown agent "cursor"/);
  assert.match(many, /input "local-proxy" must be true or false/);
  assert.match(many, /input "timeout" must be a whole number of seconds/);
  assert.match(err({ gateway: "http://gw" }), /"tailscale-client-id" is required to join the tailnet/);
  assert.match(err({ gateway: "http://gw", join: "none", "tailscale-sha256": "abc" }), /"tailscale-sha256" must be 64 hex characters/);
});

test("tag templates expand per repository and are sanitised", () => {
  assert.deepEqual(resolveTags(["tag:ci-<owner>-<repo>"], "Acme-Corp/My_API.js"), ["tag:ci-acme-corp-my-api-js"]);
  assert.deepEqual(resolveTags(["tag:ci", "tag:ci"], "a/b"), ["tag:ci"]);
  assert.throws(() => resolveTags(["ci-<repo>"], "a/b"), /input "tags": tag template "ci-<repo>" must start with "tag:"/);
});
