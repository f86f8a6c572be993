// openai/codex-action after keyless with the default `agents: all`: codex-action resolves CODEX_HOME to the one keyless
// exported, prepends its own `model_provider` to keyless's config.toml and appends its provider (its local Responses
// proxy). The real Codex CLI 0.171.0 must load the result and reach the gateway through that proxy, run as
// codex-action runs it (see ./consumers.ts for the source each step follows).
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CODEX_PROFILE, codexConfig } from "../../action/agents.js";
import { FINAL_TEXT } from "../fakes/replies.js";
import type { Harness } from "../helpers/gateway.js";
import { BIN, newJob, runCli } from "./cli.js";
import { codexActionConfig, codexActionExec, codexActionHome, startResponsesProxy } from "./consumers.js";
import { assertAttributed, assertKeysSafe, ciRows, described, startAgentHarness } from "./e2e.js";

/** The recipe's inputs: a known model, the job's placeholder as `openai-api-key`, the gateway as the endpoint. */
const MODEL = "gpt-5.5";

describe("openai/codex-action after keyless (real Codex CLI)", () => {
  let h: Harness;
  before(async () => {
    h = await startAgentHarness();
  });
  after(() => h.close());

  it("loads the config codex-action writes over keyless's: through its proxy to the gateway, and with --profile keyless straight there", async () => {
    const job = newJob("codex", h.gateway.url);
    const home = codexActionHome(job.env);
    assert.equal(home, job.env.CODEX_HOME, "codex-action picks up the CODEX_HOME keyless exported");

    const proxy = await startResponsesProxy(job.env.KEYLESS_API_KEY!, `${h.gateway.url}/v1/responses`);
    try {
      const config = join(home, "config.toml");
      writeFileSync(config, codexActionConfig(readFileSync(config, "utf8"), proxy.port));
      const outputFile = join(job.root, "final-message.txt");
      const exec = codexActionExec(job.env, { prompt: "say hello from the shell", codexHome: home, cd: job.cwd, outputFile, model: MODEL });
      const since = Date.now();
      const fromRequest = h.upstream.requests.length;
      const run = await runCli(BIN.codex, exec.args, job, { env: exec.env, input: exec.input, timeoutMs: 40_000 });
      assert.equal(run.code, 0, described(run));
      assert.doesNotMatch(run.stderr, /duplicate key|error loading config/i);
      assert.equal(readFileSync(outputFile, "utf8").trim(), FINAL_TEXT);

      assert.equal(proxy.received.length, 2, "both turns went through codex-action's proxy");
      const rows = await ciRows(h, since, 2);
      assert.equal(rows.length, 2);
      assertAttributed(rows);
      for (const row of rows) assert.equal(row.route, "openai.responses");
      assertKeysSafe(h, fromRequest, "openai", run, job);

      // A later step's `codex exec --profile keyless` still loads the shared config.toml and goes to the gateway itself.
      const later = await runCli(BIN.codex, ["exec", "--profile", CODEX_PROFILE, "--skip-git-repo-check", "-m", MODEL, "say hello from the shell"], job);
      assert.equal(later.code, 0, described(later));
      assert.equal(proxy.received.length, 2, "not through codex-action's proxy");
      assert.equal((await ciRows(h, since, 4)).length, 4);
    } finally {
      await proxy.close();
    }
  });

  it("a top-level model_provider in keyless's config.toml (the layout before) is what made Codex refuse to start", async () => {
    const job = newJob("codex", h.gateway.url);
    const config = join(job.env.CODEX_HOME!, "config.toml");
    const before = `model_provider = "keyless"\n${codexConfig(`${h.gateway.url}/v1`)}`;
    writeFileSync(config, codexActionConfig(before, 9));
    const exec = codexActionExec(job.env, { prompt: "hi", codexHome: job.env.CODEX_HOME!, cd: job.cwd, outputFile: join(job.root, "out.txt"), model: MODEL });
    const run = await runCli(BIN.codex, exec.args, job, { env: exec.env, input: exec.input });
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /duplicate key/);
    assert.ok(!existsSync(join(job.root, "out.txt")));
  });
});
