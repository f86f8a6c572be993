// Gemini CLI 0.61.0, the real CLI, headless (`gemini -p --yolo`) against the real gateway, set up exactly as the
// Action sets up a job: GOOGLE_GEMINI_BASE_URL, the placeholder key, ~/.gemini/settings.json selecting API-key auth.
// Output is `stream-json` rather than `json`: the same headless run, but it reports each tool call and its output
// (`json` only counts calls). `--skip-trust` as docs/action.md tells workflows (the Action does not trust for them).
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { FINAL_TEXT } from "../fakes/replies.js";
import { geminiStream } from "../guardrails/responses.js";
import type { Harness } from "../helpers/gateway.js";
import { BIN, type Job, jsonLines, newJob, runCli } from "./cli.js";
import { ECHO, REFUSAL, RM, assertAttributed, assertKeysSafe, ciRows, described, plantSentinel, startAgentHarness, toolCalls } from "./e2e.js";

type Event = { type?: string; session_id?: string; role?: string; content?: string; tool_name?: string; parameters?: { command?: string }; status?: string; output?: string };

const gemini = (job: Job, prompt: string) => runCli(BIN.gemini, ["-p", prompt, "--yolo", "--output-format", "stream-json", "--skip-trust"], job);

const ofType = (events: Event[], type: string) => events.filter((e) => e.type === type);
const said = (events: Event[]) =>
  ofType(events, "message")
    .filter((e) => e.role === "assistant")
    .map((e) => e.content ?? "")
    .join("");

describe("Gemini CLI (real CLI) through the gateway", () => {
  let h: Harness;
  before(async () => {
    h = await startAgentHarness();
  });
  after(() => h.close());

  it("runs the model's run_shell_command; rows, tool call and result are the CI node's; keys stay where they belong", async () => {
    const job = newJob("gemini", h.gateway.url);
    assert.match(readFileSync(join(job.home, ".gemini", "settings.json"), "utf8"), /"selectedType": "gemini-api-key"/);
    const since = Date.now();
    const fromRequest = h.upstream.requests.length;
    const run = await gemini(job, "say hello from the shell");
    assert.equal(run.code, 0, described(run));

    // The CLI's own account: it ran `echo hello` (output "hello") and ended on the model's text.
    const events = jsonLines(run.stdout) as Event[];
    assert.deepEqual(ofType(events, "tool_use").map((e) => [e.tool_name, e.parameters?.command]), [["run_shell_command", ECHO]]);
    assert.deepEqual(ofType(events, "tool_result").map((e) => [e.status, e.output]), [["success", "hello"]]);
    assert.equal(said(events), FINAL_TEXT);
    assert.equal(ofType(events, "result")[0]?.status, "success");

    // Its model router's classifier call, then the tool call and the closing turn.
    const rows = await ciRows(h, since, 3);
    assert.equal(rows.length, 3);
    assert.deepEqual(rows.map((r) => [r.model, r.path.split(":")[1], r.streamed]), [
      ["gemini-3.5-flash-lite", "generateContent", false],
      ["gemini-3.8-flash", "streamGenerateContent", true],
      ["gemini-3.8-flash", "streamGenerateContent", true],
    ]);
    assertAttributed(rows);

    const [call] = await toolCalls(h, { request: rows[1]!.id }, (r) => r[0]?.result !== null && r[0]?.result !== undefined);
    assert.equal(call!.kind, "shell");
    assert.equal(call!.name, "run_shell_command");
    assert.equal(call!.command, ECHO);
    assert.equal(call!.principal, "tag:ci,tag:ci-acme-api");
    assert.equal(call!.action, "log");
    assert.equal(call!.result?.request_id, rows[2]!.id);
    assert.equal(call!.result?.is_error, false);
    assert.match(call!.result?.text ?? "", /Output: hello/);

    assertKeysSafe(h, fromRequest, "gemini", run, job);
  });

  it("a blocked rm -r ~/… never reaches the CLI: the sentinel survives and the CLI reports the refusal", async () => {
    h.upstream.once(/:streamGenerateContent$/, (req) =>
      geminiStream(/models\/([^:]+):/.exec(req.path)![1]!, [{ name: "run_shell_command", args: { command: RM, description: "clean up" } }]),
    );
    const job = newJob("gemini", h.gateway.url);
    const sentinel = plantSentinel(job);
    const since = Date.now();
    const fromRequest = h.upstream.requests.length;
    const run = await gemini(job, "clean up my home directory");
    assert.equal(run.code, 0, described(run));
    assert.ok(existsSync(sentinel), "the command was not run");

    const events = jsonLines(run.stdout) as Event[];
    assert.deepEqual(ofType(events, "tool_use"), [], "the CLI never saw the tool call");
    assert.match(said(events), REFUSAL);
    assert.equal(ofType(events, "result")[0]?.status, "success");

    const rows = await ciRows(h, since, 2);
    assert.equal(rows.length, 2, "the router's call, then the turn that ended with the refusal");
    const blocked = rows[1]!;
    assert.ok(blocked.flags.includes("guardrail_blocked"), blocked.flags.join());
    const [call] = await toolCalls(h, { request: blocked.id }, (r) => r.length > 0);
    assert.equal(call!.command, RM);
    assert.equal(call!.action, "block");
    assert.deepEqual(call!.findings.map((f) => [f.ruleId, f.action]), [["fs.rm-root-or-home", "block"]]);
    assert.equal(call!.result, null);
    assertKeysSafe(h, fromRequest, "gemini", run, job);
  });
});
