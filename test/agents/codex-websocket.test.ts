// Codex CLI 0.171.0 (the real CLI) on its built-in OpenAI provider retargeted at the gateway (`openai_base_url`): it
// talks the Responses WebSocket, and keyless proxies it instead of refusing it. The turn's requests are the CI node's
// rows, flagged "websocket" (no HTTP fallback), and the model's exec_command is extracted with its result.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { FINAL_TEXT } from "../fakes/replies.js";
import type { Harness } from "../helpers/gateway.js";
import { BIN, jsonLines, newJob, runCli } from "./cli.js";
import { ECHO, assertAttributed, ciRows, described, startAgentHarness, toolCalls } from "./e2e.js";

type Event = { type?: string; item?: { type?: string; command?: string; exit_code?: number | null; text?: string } };

describe("Codex CLI (real CLI) over the Responses WebSocket", () => {
  let h: Harness;
  before(async () => {
    h = await startAgentHarness();
  });
  after(() => h.close());

  it("runs a turn over the WebSocket: rows flagged websocket, the tool call extracted with its result", async () => {
    const job = newJob("codex", h.gateway.url, { CODEX_API_KEY: "placeholder" });
    const since = Date.now();
    const run = await runCli(BIN.codex, ["exec", "-c", `openai_base_url=${JSON.stringify(`${h.gateway.url}/v1`)}`, "--json", "--skip-git-repo-check", "-m", "gpt-5.5", "say hello from the shell"], job, { timeoutMs: 60_000 });
    assert.equal(run.code, 0, described(run));
    const events = jsonLines(run.stdout) as Event[];
    const done = (type: string) => events.filter((e) => e.type === "item.completed" && e.item?.type === type).map((e) => e.item!);
    assert.deepEqual(done("command_execution").map((i) => [i.command, i.exit_code]), [[`/bin/bash -lc '${ECHO}'`, 0]]);
    assert.deepEqual(done("agent_message").map((i) => i.text), [FINAL_TEXT]);

    const rows = await ciRows(h, since, 2);
    assertAttributed(rows);
    for (const row of rows) {
      assert.equal(row.route, "openai.responses");
      assert.ok(row.flags.includes("websocket"), `transport: ${row.flags.join(",")}`);
    }
    const [call] = await toolCalls(h, { request: rows[0]!.id }, (r) => r[0]?.result !== null && r[0]?.result !== undefined);
    assert.equal(call!.name, "exec_command");
    assert.equal(call!.command, ECHO);
    assert.equal(call!.result?.request_id, rows[1]!.id);
  });
});
