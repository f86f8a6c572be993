// Codex CLI 0.171.0, the real CLI, headless (`codex exec --profile keyless --json`) against the real gateway, set up
// exactly as the Action sets up a job: its own CODEX_HOME whose config.toml names the gateway as a custom Responses
// provider and whose keyless.config.toml profile selects it.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CODEX_PROFILE } from "../../action/agents.js";
import { FINAL_TEXT } from "../fakes/replies.js";
import { responsesStream } from "../guardrails/responses.js";
import type { Harness } from "../helpers/gateway.js";
import { BIN, type Job, jsonLines, newJob, runCli } from "./cli.js";
import { ECHO, REFUSAL, RM, assertAttributed, assertKeysSafe, ciRows, described, plantSentinel, startAgentHarness, toolCalls } from "./e2e.js";

type Item = { type?: string; command?: string; aggregated_output?: string; exit_code?: number | null; text?: string };
type Event = { type?: string; thread_id?: string; item?: Item; usage?: { input_tokens?: number } };

/** gpt-5.5: a model Codex knows (no fallback-metadata warning) with plain `exec_command` tools, and a known price. */
const MODEL = "gpt-5.5";
const codex = (job: Job, prompt: string, extra: readonly string[] = []) => runCli(BIN.codex, ["exec", "--profile", CODEX_PROFILE, "--json", "--skip-git-repo-check", "-m", MODEL, ...extra, prompt], job);

const items = (events: Event[], type: string) => events.filter((e) => e.type === "item.completed" && e.item?.type === type).map((e) => e.item!);

describe("Codex CLI (real CLI) through the gateway", () => {
  let h: Harness;
  before(async () => {
    h = await startAgentHarness();
  });
  after(() => h.close());

  it("runs the model's exec_command; rows, tool call and result are the CI node's; keys stay where they belong", async () => {
    const job = newJob("codex", h.gateway.url);
    assert.match(readFileSync(join(job.env.CODEX_HOME!, `${CODEX_PROFILE}.config.toml`), "utf8"), /^model_provider = "keyless"$/m);
    const since = Date.now();
    const fromRequest = h.upstream.requests.length;
    const run = await codex(job, "say hello from the shell");
    assert.equal(run.code, 0, described(run));

    // Codex's own account: it ran `echo hello` through bash (exit 0, output "hello") and ended on the model's text.
    const events = jsonLines(run.stdout) as Event[];
    assert.deepEqual(
      items(events, "command_execution").map((i) => [i.command, i.exit_code, i.aggregated_output]),
      [[`/bin/bash -lc '${ECHO}'`, 0, "hello\n"]],
    );
    assert.deepEqual(items(events, "agent_message").map((i) => i.text), [FINAL_TEXT]);
    assert.ok(events.some((e) => e.type === "turn.completed" && e.usage?.input_tokens! > 0));

    const rows = await ciRows(h, since, 2);
    assert.equal(rows.length, 2, "the tool call and the closing turn (no WebSocket attempt, no retries)");
    assertAttributed(rows);
    const thread = events.find((e) => e.type === "thread.started")?.thread_id;
    for (const row of rows) {
      assert.equal(row.model, MODEL);
      assert.equal(row.route, "openai.responses");
      assert.equal(row.client_session, thread, "Codex's thread id");
    }

    const [call] = await toolCalls(h, { request: rows[0]!.id }, (r) => r[0]?.result !== null && r[0]?.result !== undefined);
    assert.equal(call!.kind, "shell");
    assert.equal(call!.name, "exec_command");
    assert.equal(call!.command, ECHO);
    assert.equal(call!.principal, "tag:ci,tag:ci-acme-api");
    assert.equal(call!.action, "log");
    assert.equal(call!.result?.request_id, rows[1]!.id);
    assert.equal(call!.result?.is_error, false);
    assert.match(call!.result?.text ?? "", /Process exited with code 0[\s\S]*Output:\nhello\n/);

    assertKeysSafe(h, fromRequest, "openai", run, job);
  });

  it("a blocked rm -r ~/… never reaches the CLI: the sentinel survives and the CLI reports the refusal", async () => {
    h.upstream.once(/^\/v1\/responses$/, (req) =>
      responsesStream(String((JSON.parse(req.body) as { model: string }).model), [
        { type: "function_call", call_id: "call_rm01", name: "exec_command", arguments: JSON.stringify({ cmd: RM }) },
      ]),
    );
    const job = newJob("codex", h.gateway.url);
    const sentinel = plantSentinel(job);
    const since = Date.now();
    const fromRequest = h.upstream.requests.length;
    // No sandbox: Codex's own read-only sandbox would also stop the delete; here only the gateway can.
    const run = await codex(job, "clean up my home directory", ["--sandbox", "danger-full-access"]);
    assert.equal(run.code, 0, described(run));
    assert.ok(existsSync(sentinel), "the command was not run");

    const events = jsonLines(run.stdout) as Event[];
    assert.deepEqual(items(events, "command_execution"), [], "the CLI never saw the tool call");
    const messages = items(events, "agent_message").map((i) => i.text ?? "");
    assert.equal(messages.length, 1);
    assert.match(messages[0]!, REFUSAL);

    const rows = await ciRows(h, since, 1);
    assert.equal(rows.length, 1, "the turn ended with the refusal");
    assert.ok(rows[0]!.flags.includes("guardrail_blocked"), rows[0]!.flags.join());
    const [call] = await toolCalls(h, { request: rows[0]!.id }, (r) => r.length > 0);
    assert.equal(call!.command, RM);
    assert.equal(call!.action, "block");
    assert.deepEqual(call!.findings.map((f) => [f.ruleId, f.action]), [["fs.rm-root-or-home", "block"]]);
    assert.equal(call!.result, null);
    assertKeysSafe(h, fromRequest, "openai", run, job);
  });
});
