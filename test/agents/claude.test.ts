// Claude Code 2.1.197, the real CLI, headless (`claude -p --output-format stream-json`) against the real gateway, set
// up exactly as the Action sets up a job: ANTHROPIC_BASE_URL, the placeholder key, no nonessential traffic.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { FINAL_TEXT } from "../fakes/replies.js";
import { anthropicStream } from "../guardrails/responses.js";
import type { Harness } from "../helpers/gateway.js";
import { BIN, type Job, jsonLines, newJob, runCli } from "./cli.js";
import { ECHO, REFUSAL, RM, assertAttributed, assertKeysSafe, ciRows, described, plantSentinel, startAgentHarness, toolCalls } from "./e2e.js";

type Event = { type?: string; subtype?: string; session_id?: string; result?: string; message?: { content?: { type: string; name?: string; input?: { command?: string }; tool_use_id?: string; content?: unknown; is_error?: boolean }[] } };

/** `--allowedTools Bash`: every command runs unasked, so only the gateway stands between a blocked one and the shell. */
const claude = (job: Job, prompt: string) => runCli(BIN.claude, ["-p", prompt, "--output-format", "stream-json", "--verbose", "--allowedTools", "Bash"], job);

const blocks = (events: Event[], type: string) => events.flatMap((e) => e.message?.content ?? []).filter((b) => b.type === type);

describe("Claude Code (real CLI) through the gateway", () => {
  let h: Harness;
  before(async () => {
    h = await startAgentHarness();
  });
  after(() => h.close());

  it("runs the model's Bash command; rows, tool call and result are the CI node's; keys stay where they belong", async () => {
    const job = newJob("claude", h.gateway.url);
    assert.equal(job.env.ANTHROPIC_API_KEY, "keyless");
    assert.equal(job.env.CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC, "1");
    const since = Date.now();
    const fromRequest = h.upstream.requests.length;
    const run = await claude(job, "say hello from the shell");
    assert.equal(run.code, 0, described(run));

    // The CLI's own account: it asked for `echo hello`, ran it (stdout "hello"), and finished on the model's text.
    const events = jsonLines(run.stdout) as Event[];
    assert.deepEqual(blocks(events, "tool_use").map((b) => [b.name, b.input?.command]), [["Bash", ECHO]]);
    const [result] = blocks(events, "tool_result");
    assert.equal(result?.is_error, false);
    assert.equal(result?.content, "hello");
    const final = events.find((e) => e.type === "result");
    assert.equal(final?.subtype, "success");
    assert.equal(final?.result, FINAL_TEXT);

    const rows = await ciRows(h, since, 2);
    assert.equal(rows.length, 2, "the tool call and the closing turn");
    assertAttributed(rows);
    for (const row of rows) {
      assert.equal(row.model, "claude-opus-4-8");
      assert.equal(row.client_session, final?.session_id, "Claude Code's session id");
    }

    const [call] = await toolCalls(h, { request: rows[0]!.id }, (r) => r[0]?.result !== null && r[0]?.result !== undefined);
    assert.equal(call!.kind, "shell");
    assert.equal(call!.name, "Bash");
    assert.equal(call!.command, ECHO);
    assert.equal(call!.principal, "tag:ci,tag:ci-acme-api");
    assert.equal(call!.action, "log");
    assert.deepEqual(call!.result && { request: call!.result.request_id, error: call!.result.is_error, text: call!.result.text }, { request: rows[1]!.id, error: false, text: "hello" });

    assertKeysSafe(h, fromRequest, "anthropic", run, job);
  });

  it("a blocked rm -r ~/… never reaches the CLI: the sentinel survives and the CLI reports the refusal", async () => {
    h.upstream.once(/^\/v1\/messages$/, (req) =>
      anthropicStream(String((JSON.parse(req.body) as { model: string }).model), [{ id: "toolu_rm01", name: "Bash", input: { command: RM, description: "clean up" } }]),
    );
    const job = newJob("claude", h.gateway.url);
    const sentinel = plantSentinel(job);
    const since = Date.now();
    const fromRequest = h.upstream.requests.length;
    const run = await claude(job, "clean up my home directory");
    assert.equal(run.code, 0, described(run));
    assert.ok(existsSync(sentinel), "the command was not run");

    const events = jsonLines(run.stdout) as Event[];
    assert.deepEqual(blocks(events, "tool_use"), [], "the CLI never saw the tool call");
    const final = events.find((e) => e.type === "result");
    assert.equal(final?.subtype, "success");
    assert.match(final?.result ?? "", REFUSAL);

    const rows = await ciRows(h, since, 1);
    assert.equal(rows.length, 1, "the turn ended with the refusal");
    assert.ok(rows[0]!.flags.includes("guardrail_blocked"), rows[0]!.flags.join());
    const [call] = await toolCalls(h, { request: rows[0]!.id }, (r) => r.length > 0);
    assert.equal(call!.command, RM);
    assert.equal(call!.action, "block");
    assert.deepEqual(call!.findings.map((f) => [f.ruleId, f.action]), [["fs.rm-root-or-home", "block"]]);
    assert.equal(call!.result, null);
    assertKeysSafe(h, fromRequest, "anthropic", run, job);
  });
});
