// Agent configuration as data: what each agent gets for each provider mode, and the Gemini CLI https rule.
import assert from "node:assert/strict";
import { test } from "node:test";
import { agentSetup, codexConfig, codexProfile, geminiSettings } from "../../action/agents.js";
import { AGENTS } from "../../action/inputs.js";

const ctx = { runnerTemp: "/tmp/rt", home: "/home/runner", presetEnv: {} };
const inputs = { agents: [...AGENTS], providerMode: "anthropic" as const, awsRegion: "", vertexProjectId: "", vertexRegion: "" };

test("a plain-http tailnet gateway draws Gemini CLI's https warning; https and localhost do not", () => {
  assert.match(agentSetup("http://ai-gateway", inputs, ctx).warnings.join("\n"), /Gemini CLI refuses plain-http.*local-proxy: true/);
  assert.deepEqual(agentSetup("https://ai.tail1234.ts.net", inputs, ctx).warnings, []);
  assert.deepEqual(agentSetup("http://127.0.0.1:41234", inputs, ctx).warnings, []);
  assert.deepEqual(agentSetup("http://ai-gateway", { ...inputs, agents: ["claude", "openai", "codex"] }, ctx).warnings, []);
});

test("a gateway path prefix is kept in every URL", () => {
  const s = agentSetup("https://gw.example/keyless", inputs, ctx);
  assert.equal(s.env.ANTHROPIC_BASE_URL, "https://gw.example/keyless");
  assert.equal(s.env.OPENAI_BASE_URL, "https://gw.example/keyless/v1");
  assert.equal(s.outputs["codex-base-url"], "https://gw.example/keyless/v1");
});

test("an existing CODEX_HOME is replaced with a warning", () => {
  const s = agentSetup("http://127.0.0.1:1", { ...inputs, agents: ["codex"] }, { ...ctx, presetEnv: { CODEX_HOME: "/home/runner/.codex" } });
  assert.equal(s.env.CODEX_HOME, "/tmp/rt/keyless/codex");
  assert.match(s.warnings[0] ?? "", /CODEX_HOME was \/home\/runner\/\.codex/);
});

test("inputs for Vertex override the defaults", () => {
  const s = agentSetup("http://gw", { ...inputs, agents: ["claude"], providerMode: "vertex", vertexProjectId: "p1", vertexRegion: "europe-west1" }, ctx);
  assert.equal(s.env.ANTHROPIC_VERTEX_PROJECT_ID, "p1");
  assert.equal(s.env.CLOUD_ML_REGION, "europe-west1");
});

test("Codex: the provider in config.toml (no top-level key for codex-action to collide with), selected by the keyless profile", () => {
  assert.equal(
    codexConfig("http://gw/v1"),
    '# Written by keyless: the gateway as a Codex provider, selected by `codex --profile keyless`.\n[model_providers.keyless]\nname = "keyless"\nbase_url = "http://gw/v1"\nenv_key = "KEYLESS_API_KEY"\nwire_api = "responses"\n\n# CI runs should not phone home (ab.chatgpt.com).\n[analytics]\nenabled = false\n',
  );
  assert.equal(codexProfile(), '# Written by keyless: Codex sends its requests to the keyless gateway.\nmodel_provider = "keyless"\n');
  const files = agentSetup("http://gw", { ...inputs, agents: ["codex"] }, ctx).files.map((f) => f.path);
  assert.deepEqual(files, ["/tmp/rt/keyless/codex/config.toml", "/tmp/rt/keyless/codex/keyless.config.toml"]);
});

test("Bedrock: a placeholder AWS_BEARER_TOKEN_BEDROCK (claude-code-action requires one), the session token with join: token", () => {
  const bedrock = { ...inputs, agents: ["claude" as const], providerMode: "bedrock" as const };
  assert.equal(agentSetup("http://gw", bedrock, ctx).env.AWS_BEARER_TOKEN_BEDROCK, "keyless");
  assert.equal(agentSetup("https://gw", bedrock, ctx, "kls_token").env.AWS_BEARER_TOKEN_BEDROCK, "kls_token");
  assert.equal(agentSetup("http://gw", { ...bedrock, providerMode: "anthropic" }, ctx).env.AWS_BEARER_TOKEN_BEDROCK, undefined);
});

test("Gemini settings: created, merged, and a non-JSON file is refused", () => {
  assert.deepEqual(JSON.parse(geminiSettings(null)), { security: { auth: { selectedType: "gemini-api-key" } }, privacy: { usageStatisticsEnabled: false } });
  assert.deepEqual(JSON.parse(geminiSettings('{"security":{"auth":{"selectedType":"oauth-personal","useExternal":true}},"privacy":{"usageStatisticsEnabled":true}}')), {
    security: { auth: { selectedType: "gemini-api-key", useExternal: true } },
    privacy: { usageStatisticsEnabled: true },
  });
  assert.throws(() => geminiSettings("// comment\n{}"));
});
