// google-github-actions/run-gemini-cli after keyless: its "Run Gemini CLI" step (reimplemented in ./consumers.ts)
// blanks the job's GEMINI_API_KEY unless its `gemini_api_key` input is set, and runs `gemini --yolo --prompt …`
// headless, where Gemini CLI 0.61.0 refuses an untrusted workspace. With the recipe of docs/action.md (the job's
// placeholder as `gemini_api_key`, GEMINI_CLI_TRUST_WORKSPACE set by the workflow) the real CLI reaches the gateway;
// without either it stops before any request.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { FINAL_TEXT } from "../fakes/replies.js";
import type { Harness } from "../helpers/gateway.js";
import { BIN, type Job, newJob, runCli } from "./cli.js";
import { type GeminiActionInputs, geminiActionRun } from "./consumers.js";
import { assertAttributed, assertKeysSafe, ciRows, described, startAgentHarness } from "./e2e.js";

const PROMPT = "say hello from the shell";
/** What the recipe adds to the job: the trust decision run-gemini-cli leaves to the workflow. */
const TRUST = { GEMINI_CLI_TRUST_WORKSPACE: "true" };

const runAction = (job: Job, jobEnv: Readonly<Record<string, string>>, inputs: GeminiActionInputs) => {
  const step = geminiActionRun(jobEnv, inputs);
  return runCli(BIN.gemini, step.args, job, { env: step.env, timeoutMs: 40_000 });
};

describe("google-github-actions/run-gemini-cli after keyless (real Gemini CLI)", () => {
  let h: Harness;
  before(async () => {
    h = await startAgentHarness();
  });
  after(() => h.close());

  it("with gemini_api_key set to the job's placeholder and the workspace trusted, it runs through the gateway", async () => {
    const job = newJob("gemini", h.gateway.url, TRUST);
    const since = Date.now();
    const fromRequest = h.upstream.requests.length;
    const run = await runAction(job, job.env, { prompt: PROMPT, gemini_api_key: job.env.GEMINI_API_KEY! });
    assert.equal(run.code, 0, described(run));
    const out = JSON.parse(run.stdout) as { response?: string; stats?: { tools?: { totalCalls?: number } } };
    assert.equal(out.response, FINAL_TEXT);
    assert.equal(out.stats?.tools?.totalCalls, 1, "it ran the model's shell command");
    const rows = await ciRows(h, since, 3);
    assert.equal(rows.length, 3, "the router's call, the tool call and the closing turn");
    assertAttributed(rows);
    assertKeysSafe(h, fromRequest, "gemini", run, job);
  });

  it("without gemini_api_key (the job's key blanked) or without trust, Gemini CLI stops before any request", async () => {
    const fromRequest = h.upstream.requests.length;
    const noKey = newJob("gemini", h.gateway.url, TRUST);
    const keyless = await runAction(noKey, noKey.env, { prompt: PROMPT });
    assert.equal(keyless.code, 41, described(keyless));
    const untrusted = newJob("gemini", h.gateway.url);
    const distrusted = await runAction(untrusted, untrusted.env, { prompt: PROMPT, gemini_api_key: untrusted.env.GEMINI_API_KEY! });
    assert.equal(distrusted.code, 55, described(distrusted));
    assert.equal(h.upstream.requests.length, fromRequest, "nothing reached the provider");
  });
});
