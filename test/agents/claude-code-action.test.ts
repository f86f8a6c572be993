// anthropics/claude-code-action after keyless: its env validation (base-action/src/validate-env.ts, reimplemented in
// ./consumers.ts) against the environment its run step builds from what keyless exported, for each recipe in
// docs/action.md; its inline-comment classifier gets no key; and the real Claude Code 2.1.197, run with each recipe's
// environment, reaches the gateway's Messages, Bedrock or Vertex route (the fake clouds behind it check the gateway's
// SigV4 and Google token).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { exportPKCS8, generateKeyPair } from "jose";
import { PLACEHOLDER_KEY, agentSetup } from "../../action/agents.js";
import { EVENTSTREAM_CONTENT_TYPE } from "../../gateway/stream/eventstream.js";
import { type FakeCloud, bedrockInvokeFrames, chunked, startFakeCloud } from "../fakes/cloud-upstream.js";
import { capture, captureBytes } from "../fakes/fixtures.js";
import { FINAL_TEXT, anthropicTextStream } from "../fakes/replies.js";
import { sseResponse } from "../fakes/upstream.js";
import { type Harness, KEYS } from "../helpers/gateway.js";
import { BIN, jsonLines, newJob, runCli } from "./cli.js";
import { type ClaudeActionInputs, claudeActionClassifierKey, claudeActionEnvErrors, claudeActionRunEnv } from "./consumers.js";
import { CI_NODE, CI_PRINCIPAL, described, startAgentHarness } from "./e2e.js";

/** The gateway's AWS identity: canaries that must never leave it. */
const AWS = { accessKeyId: "AKIAKEYLESSGATEWAY01", secretAccessKey: "CANARY-aws-secret-0123456789abcdef", sessionToken: "CANARY-aws-session-0123456789abcdef", region: "us-east-1" };
/** Current models, as `claude_args: --model …` would name them (Claude Code's own Bedrock and Vertex defaults are older). */
const BEDROCK_MODEL = "us.anthropic.claude-sonnet-4-6-v1:0";
const SA_EMAIL = "keyless-gateway@gw-proj.iam.gserviceaccount.com";

const ctx = { runnerTemp: "/tmp/rt", home: "/home/runner", presetEnv: {} };
const exported = (providerMode: "anthropic" | "bedrock" | "vertex") =>
  agentSetup("http://ai-gateway", { agents: ["claude"], providerMode, awsRegion: "", vertexProjectId: "", vertexRegion: "" }, ctx).env;

/** The recipes of docs/action.md: which of claude-code-action's provider inputs each sets (none sets anthropic_api_key). */
const RECIPES: Record<"anthropic" | "bedrock" | "vertex", ClaudeActionInputs> = {
  anthropic: {},
  bedrock: { use_bedrock: "true" },
  vertex: { use_vertex: "true" },
};

describe("anthropics/claude-code-action after keyless", () => {
  for (const [mode, inputs] of Object.entries(RECIPES) as [keyof typeof RECIPES, ClaudeActionInputs][]) {
    it(`${mode}: the recipe's environment passes its env validation, and its classifier gets no key`, async () => {
      const step = claudeActionRunEnv(exported(mode), inputs);
      assert.deepEqual(claudeActionEnvErrors(step), []);
      assert.equal(step.ANTHROPIC_API_KEY, PLACEHOLDER_KEY, "the key falls back to the job's placeholder");
      assert.equal(claudeActionClassifierKey(inputs), "", "no key: the classifier skips its call to api.anthropic.com");
    });
  }

  it("the provider inputs matter: without use_bedrock the job's CLAUDE_CODE_USE_BEDROCK is blanked; without the token Bedrock is refused", async () => {
    assert.equal(claudeActionRunEnv(exported("bedrock"), {}).CLAUDE_CODE_USE_BEDROCK, "");
    const { AWS_BEARER_TOKEN_BEDROCK: _, ...before } = exported("bedrock");
    assert.deepEqual(claudeActionEnvErrors(claudeActionRunEnv(before, RECIPES.bedrock)), [
      "Either AWS_BEARER_TOKEN_BEDROCK or both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are required when using AWS Bedrock.",
    ]);
    assert.equal(claudeActionClassifierKey({ anthropic_api_key: PLACEHOLDER_KEY }), PLACEHOLDER_KEY, "passing the input would hand it to the classifier");
  });

  describe("each recipe's environment, real Claude Code", () => {
    let cloud: FakeCloud;
    let h: Harness;
    before(async () => {
      const google = await generateKeyPair("RS256", { extractable: true });
      cloud = await startFakeCloud({ aws: AWS, google: { clientEmail: SA_EMAIL, publicKey: google.publicKey } });
      const serviceAccount = { type: "service_account", project_id: "gw-proj", private_key_id: "kid-1", private_key: await exportPKCS8(google.privateKey), client_email: SA_EMAIL };
      h = await startAgentHarness({
        bedrock: {
          type: "bedrock",
          region: AWS.region,
          baseurl: cloud.url,
          control_baseurl: cloud.url,
          credentials: { access_key_id: AWS.accessKeyId, secret_access_key: AWS.secretAccessKey, session_token: AWS.sessionToken },
          models: ["us.anthropic.*"],
        },
        vertex: { type: "vertex", project: "gw-proj", region: "us-east5", token_url: cloud.tokenUrl, baseurl: cloud.url, credentials: JSON.stringify(serviceAccount), models: ["claude-sonnet-*"] },
      });
    });
    after(async () => {
      await h.close();
      await cloud.close();
    });

    /** Runs Claude Code as the action's run step would: the model asks for `echo hello`, then closes with text. */
    async function runRecipe(mode: keyof typeof RECIPES, model: string) {
      const job = newJob("claude", h.gateway.url, {}, mode);
      const env = claudeActionRunEnv(job.env, RECIPES[mode]);
      assert.deepEqual(claudeActionEnvErrors(env), []);
      const since = Date.now();
      const fromCloud = cloud.requests.length;
      const fromUpstream = h.upstream.requests.length;
      const run = await runCli(BIN.claude, ["-p", "say hello from the shell", "--model", model, "--output-format", "stream-json", "--verbose", "--allowedTools", "Bash"], job, { env });
      assert.equal(run.code, 0, described(run));
      const events = jsonLines(run.stdout) as { type?: string; subtype?: string; result?: string; message?: { content?: { type: string; content?: unknown }[] } }[];
      const results = events.flatMap((e) => e.message?.content ?? []).filter((b) => b.type === "tool_result");
      assert.deepEqual(results.map((b) => b.content), ["hello"], "Claude Code ran the model's `echo hello`");
      const final = events.find((e) => e.type === "result");
      assert.equal(final?.subtype, "success", described(run));
      assert.equal(final?.result, FINAL_TEXT);

      await h.gateway.requestLog.flush();
      const rows = (await h.gateway.requestLog.list({ principal: CI_PRINCIPAL, since })).reverse();
      for (const row of rows) assert.equal(row.node_id, CI_NODE);
      for (const secret of [AWS.secretAccessKey, AWS.sessionToken, ...Object.values(KEYS)]) {
        assert.ok(!run.stdout.includes(secret) && !run.stderr.includes(secret), "a provider secret in the CLI's output");
      }
      return { rows, cloud: cloud.requests.slice(fromCloud), upstream: h.upstream.requests.slice(fromUpstream) };
    }

    it("direct: the key falls back to the job's placeholder; the gateway's Messages route, with the gateway's key", async () => {
      const { rows, upstream } = await runRecipe("anthropic", "claude-sonnet-4-6");
      assert.deepEqual(rows.map((r) => [r.route, r.model, r.status]), [
        ["anthropic.messages", "claude-sonnet-4-6", 200],
        ["anthropic.messages", "claude-sonnet-4-6", 200],
      ]);
      assert.equal(upstream.length, 2);
      for (const req of upstream) assert.equal(req.headers["x-api-key"], KEYS.anthropic);
    });

    it("Bedrock: the gateway's Bedrock route, signed by the gateway; nothing the job holds reaches AWS", async () => {
      cloud.once(/invoke-with-response-stream$/, () =>
        chunked(captureBytes("fixtures/bedrock-invoke-with-response-stream-tool_use.eventstream.bin"), "frame", EVENTSTREAM_CONTENT_TYPE),
      );
      cloud.once(/invoke-with-response-stream$/, () => chunked(bedrockInvokeFrames(anthropicTextStream(BEDROCK_MODEL)), "frame", EVENTSTREAM_CONTENT_TYPE));
      const { rows, cloud: requests } = await runRecipe("bedrock", BEDROCK_MODEL);
      assert.deepEqual(rows.map((r) => [r.route, r.model, r.status]), [
        ["bedrock.invoke", BEDROCK_MODEL, 200],
        ["bedrock.invoke", BEDROCK_MODEL, 200],
      ]);
      // The fake Bedrock answered, so each request carried the gateway's SigV4; none carried what the job holds.
      const invokes = requests.filter((r) => r.modelId !== undefined);
      assert.equal(invokes.length, 2);
      for (const req of invokes) {
        assert.equal(req.modelId, BEDROCK_MODEL);
        assert.match(req.headers.authorization ?? "", /^AWS4-HMAC-SHA256 Credential=AKIAKEYLESSGATEWAY01\//);
        for (const [name, value] of Object.entries(req.headers)) assert.ok(!value.includes(PLACEHOLDER_KEY), `the job's placeholder in ${name}`);
        assert.equal(req.headers["x-api-key"], undefined);
      }
    });

    it("Vertex: the gateway's Vertex route, in the gateway's project with the gateway's token", async () => {
      cloud.once(/:streamRawPredict$/, () => sseResponse(capture("fixtures/anthropic-messages-tool_use.sse")));
      cloud.once(/:streamRawPredict$/, () => sseResponse(anthropicTextStream("claude-sonnet-4-6")));
      const { rows, cloud: requests } = await runRecipe("vertex", "claude-sonnet-4-6");
      assert.deepEqual(rows.map((r) => [r.route, r.status]), [
        ["vertex.anthropic", 200],
        ["vertex.anthropic", 200],
      ]);
      const predicts = requests.filter((r) => r.path.endsWith(":streamRawPredict"));
      assert.equal(predicts.length, 2);
      for (const req of predicts) {
        assert.deepEqual([req.project, req.location], ["gw-proj", "us-east5"]);
        assert.match(req.headers.authorization ?? "", /^Bearer ya29\.fake-/);
        for (const [name, value] of Object.entries(req.headers)) assert.ok(!value.includes(PLACEHOLDER_KEY), `the job's placeholder in ${name}`);
      }
    });
  });
});
