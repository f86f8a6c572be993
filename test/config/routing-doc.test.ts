// docs/routing.md's worked config, as a reader would paste it, loads with the gateway's own config loader (comments,
// ${ENV} references and all), without warnings, and means what the prose under it says.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { type Token, lexer } from "marked";
import { accessUnder, allowsModel, modelKey } from "../../gateway/access/grants.js";
import { parseConfigText } from "../../gateway/config/load.js";
import type { Identity } from "../../gateway/identity/types.js";
import { resolveAlias } from "../../gateway/proxy/route-plan.js";

const doc = readFileSync(new URL("../../docs/routing.md", import.meta.url), "utf8");

/** The first jsonc block under the "A worked config" heading, found by a Markdown parser. */
function workedConfig(): string {
  const tokens = lexer(doc);
  const heading = tokens.findIndex((t) => t.type === "heading" && t.text === "A worked config");
  assert.ok(heading !== -1, "docs/routing.md has a worked config");
  const block = tokens.slice(heading + 1).find((t): t is Token & { type: "code"; lang: string; text: string } => t.type === "code" || t.type === "heading");
  assert.ok(block?.type === "code" && block.lang === "jsonc", "a jsonc block right under the heading");
  return block.text;
}

/** What the ${…} references stand for: secrets a reader keeps in the environment. */
const ENV = {
  ANTHROPIC_KEY_MAIN: "sk-ant-doc-main",
  ANTHROPIC_KEY_SPARE: "sk-ant-doc-spare",
  GOOGLE_SA_JSON: JSON.stringify({ type: "service_account", client_email: "keyless@acme-ai.iam.gserviceaccount.com", private_key: "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n" }),
  OPS_WEBHOOK_SECRET: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
};

const ci: Identity = { principal: "tag:ci,tag:ci-acme-api", login: null, nodeId: "n1", nodeName: null, tags: ["tag:ci", "tag:ci-acme-api"], groups: [], capMap: {}, addr: "100.64.0.1:1" };

describe("docs/routing.md's worked config", () => {
  it("loads with the gateway's config loader, without warnings", () => {
    const loaded = parseConfigText(workedConfig(), ENV);
    assert.deepEqual(loaded.warnings, []);
  });

  it("means what the prose says: the alias, the route's three targets, two weighted keys, limits, alerts, the grant", () => {
    const { config } = parseConfigText(workedConfig(), ENV);
    assert.equal(resolveAlias(config, "claude-sonnet"), "claude-sonnet-4-6");
    assert.deepEqual(config.routes["claude-sonnet-4-6"]!.map((t) => [t.provider, config.providers[t.provider]!.type]), [["anthropic", "anthropic"], ["bedrock", "bedrock"], ["vertex", "vertex"]]);
    const anthropic = config.providers.anthropic!;
    assert.ok("keys" in anthropic && anthropic.keys);
    assert.deepEqual(anthropic.keys.map((k) => [k.name, k.weight]), [["main", 3], ["spare", 1]], "3 in every 4 requests on main");
    assert.deepEqual(config.routing, { rate_limit_cooldown: 30_000, auth_cooldown: 300_000, max_cooldown: 3_600_000, max_attempts: 4 });
    assert.deepEqual(config.quotas["daily:<repo>"]!.alerts, [50, 80, 100]);
    const limit = config.rate_limits["agents:<repo>"]!;
    assert.deepEqual([limit.requests, limit.tokens, limit.concurrent], [120, 400_000, 8]);
    const access = accessUnder(ci, config);
    assert.equal(access.role, "user");
    assert.ok(allowsModel(access, modelKey("anthropic", "claude-sonnet")), "the grant opens the alias");
  });
});
