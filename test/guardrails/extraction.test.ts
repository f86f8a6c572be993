// Tool-call rows through the real gateway with the official SDKs: what each agent's calls are stored as, and how the
// next request's results link back to them. Guardrails are not enforced here, so nothing is rewritten.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { GoogleGenAI } from "@google/genai";
import OpenAI from "openai";
import { getGlobalDispatcher, setGlobalDispatcher } from "undici";
import { type ToolCallRow, listToolCalls } from "../../gateway/store/tool-calls.js";
import { type Harness, sourceAgent, startHarness } from "../helpers/gateway.js";
import { waitFor } from "../helpers/wait.js";
import {
  anthropicMessage,
  anthropicStream,
  chatCompletion,
  chatStream,
  geminiStream,
  json,
  responsesObject,
  responsesStream,
} from "./responses.js";

const ALICE = "127.0.0.2";
const CI = "127.0.0.3";
const GINA = "127.0.0.4";

describe("tool-call rows from every agent shape", () => {
  let h: Harness;
  const previous = getGlobalDispatcher();
  before(async () => {
    h = await startHarness({
      peers: {
        [ALICE]: { login: "alice@example.com", nodeId: "nALICE" },
        [CI]: { tags: ["tag:ci"], nodeId: "nCI" },
        [GINA]: { login: "gina@example.com", nodeId: "nGINA" },
      },
    });
    // @google/genai takes no custom fetch: its connections come from GINA's address.
    setGlobalDispatcher(sourceAgent(GINA));
  });
  after(async () => {
    setGlobalDispatcher(previous);
    await h.close();
  });

  /** The gateway's request id of the newest response a client got (x-keyless-request-id). */
  let lastId = "";
  const recording = (from: string): typeof fetch => {
    const f = h.fetchFrom(from);
    return (async (input: RequestInfo | URL, init?: RequestInit) => {
      const res = await f(input, init);
      lastId = res.headers.get("x-keyless-request-id") ?? "";
      return res;
    }) as typeof fetch;
  };
  const anthropic = () => new Anthropic({ apiKey: "placeholder", baseURL: h.gateway.url, fetch: recording(ALICE), maxRetries: 0 });
  const openai = () => new OpenAI({ apiKey: "placeholder", baseURL: `${h.gateway.url}/v1`, fetch: recording(CI), maxRetries: 0 });
  const gemini = () => new GoogleGenAI({ apiKey: "placeholder", httpOptions: { baseUrl: h.gateway.url } });

  /** The rows of one request, parents first then children, once the log has written them. */
  const rowsOf = async (requestId: string, count: number): Promise<ToolCallRow[]> => {
    await h.gateway.requestLog.flush();
    return waitFor(async () => {
      const rows = (await listToolCalls(h.gateway.store, { requestId })).sort((a, b) => a.id - b.id);
      return rows.length >= count ? rows : undefined;
    }, 3000, `${count} tool-call rows for ${requestId}`);
  };
  const requestRow = (id: string) => waitFor(async () => (await h.gateway.requestLog.get(id))?.row, 3000, `row ${id}`);
  const rowById = async (id: number) => (await listToolCalls(h.gateway.store, { limit: 1000 })).find((r) => r.id === id)!;

  it("Claude Code (stream): Bash and an MCP tool, results linked by tool_use_id; the stream passes untouched", async () => {
    const calls = [
      { id: "toolu_bash01", name: "Bash", input: { command: "echo hello-from-fake", description: "say hello" } },
      { id: "toolu_mcp01", name: "mcp__fakedb__run_query", input: { sql: "DROP TABLE users" } },
    ];
    const expected = await anthropicStream("claude-sonnet-4-6", calls, "Running it.").text();
    h.upstream.once(/^\/v1\/messages$/, () => anthropicStream("claude-sonnet-4-6", calls, "Running it."));
    const res = await h.fetchFrom(ALICE)(`${h.gateway.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "anthropic-version": "2023-06-01", "x-claude-code-session-id": "cc-session-1" },
      body: JSON.stringify({ model: "claude-sonnet-4-6", max_tokens: 100, stream: true, messages: [{ role: "user", content: "query" }] }),
    });
    assert.equal(await res.text(), expected, "without blocking guardrails the stream must pass byte for byte");
    const first = res.headers.get("x-keyless-request-id")!;
    const [bash, mcp] = await rowsOf(first, 2);
    assert.deepEqual(
      { ...bash, id: 0, ts: 0 },
      {
        id: 0,
        ts: 0,
        request_id: first,
        parent_id: null,
        position: 0,
        principal: "alice@example.com",
        session_id: null,
        client_session: "cc-session-1",
        call_id: "toolu_bash01",
        name: "Bash",
        kind: "shell",
        mcp_server: null,
        mcp_tool: null,
        command: "echo hello-from-fake",
        paths: null,
        arguments: { command: "echo hello-from-fake", description: "say hello" },
        findings: [],
        action: "log",
        result: null,
      },
    );
    assert.equal(mcp!.kind, "mcp");
    assert.equal(mcp!.mcp_server, "fakedb");
    assert.equal(mcp!.mcp_tool, "run_query");
    assert.deepEqual(mcp!.arguments, { sql: "DROP TABLE users" });
    assert.deepEqual(mcp!.findings.map((f) => [f.ruleId, f.category, f.action]), [["infra.sql-drop", "infra_destruction", "flag"]]);
    assert.equal(mcp!.action, "flag", "a blocking rule that is not enforced is recorded as flagged");
    assert.ok((await requestRow(first)).flags.includes("guardrail_flagged"));

    // The next turn reports both results (Claude Code's tool_result blocks, one an error).
    h.upstream.once(/^\/v1\/messages$/, () => anthropicStream("claude-sonnet-4-6", [], "Done."));
    const final = await anthropic()
      .messages.stream({
        model: "claude-sonnet-4-6",
        max_tokens: 100,
        messages: [
          { role: "user", content: "query" },
          { role: "assistant", content: calls.map((c) => ({ type: "tool_use" as const, ...c })) },
          {
            role: "user",
            content: [
              { type: "tool_result", tool_use_id: "toolu_bash01", content: "hello-from-fake\n", is_error: false },
              { type: "tool_result", tool_use_id: "toolu_mcp01", content: [{ type: "text", text: "permission denied for DROP" }], is_error: true },
            ],
          },
        ],
      })
      .finalMessage();
    assert.equal(final.stop_reason, "end_turn");
    await h.gateway.requestLog.flush();
    const linkedBash = await waitFor(async () => (await rowById(bash!.id)).result ?? undefined, 3000, "bash result");
    assert.equal(linkedBash.is_error, false);
    assert.equal(linkedBash.text, "hello-from-fake\n");
    assert.notEqual(linkedBash.request_id, first);
    const linkedMcp = (await rowById(mcp!.id)).result!;
    assert.equal(linkedMcp.is_error, true);
    assert.equal(linkedMcp.text, "permission denied for DROP");
  });

  it("Anthropic non-streaming: Write is a file edit with its path; results of another principal never link", async () => {
    h.upstream.once(/^\/v1\/messages$/, (r) =>
      json(anthropicMessage(String(JSON.parse(r.body).model), [{ id: "toolu_write01", name: "Write", input: { file_path: "src/a.ts", content: "x" } }])),
    );
    const { data, response } = await anthropic()
      .messages.create({ model: "claude-sonnet-4-6", max_tokens: 100, messages: [{ role: "user", content: "write" }] })
      .withResponse();
    assert.equal(data.content[0]?.type, "tool_use");
    const [write] = await rowsOf(response.headers.get("x-keyless-request-id")!, 1);
    assert.equal(write!.kind, "file_edit");
    assert.deepEqual(write!.paths, ["src/a.ts"]);
    assert.equal(write!.command, null);

    // A different caller reporting a result for the same call id must not touch alice's row.
    await openai().chat.completions.create({
      model: "gpt-5-mini",
      messages: [
        { role: "assistant", content: null, tool_calls: [{ id: "toolu_write01", type: "function", function: { name: "Write", arguments: "{}" } }] },
        { role: "tool", tool_call_id: "toolu_write01", content: "spoofed" },
      ],
    });
    await h.gateway.requestLog.flush();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal((await rowById(write!.id)).result, null);
  });

  it("Codex (Responses stream): exec_command and an MCP namespace call; function_call_output links with exit codes", async () => {
    const items = [
      { type: "function_call" as const, call_id: "call_exec01", name: "exec_command", arguments: JSON.stringify({ cmd: "git status --short", workdir: "/repo" }) },
      { type: "function_call" as const, call_id: "call_mcp01", name: "run_query", namespace: "mcp__fakedb", arguments: JSON.stringify({ sql: "SELECT 1" }) },
    ];
    h.upstream.once(/^\/v1\/responses$/, () => responsesStream("gpt-5.5", items));
    const stream = openai().responses.stream({ model: "gpt-5.5", input: "status" });
    const final = await stream.finalResponse();
    assert.deepEqual(final.output.map((o) => o.type), ["function_call", "function_call"]);
    const requestId = lastId;
    const [exec, mcp] = await rowsOf(requestId, 2);
    assert.equal(exec!.principal, "tag:ci");
    assert.equal(exec!.kind, "shell");
    assert.equal(exec!.command, "git status --short");
    assert.deepEqual(exec!.arguments, { cmd: "git status --short", workdir: "/repo" });
    assert.equal(mcp!.kind, "mcp");
    assert.equal(mcp!.mcp_server, "fakedb");
    assert.equal(mcp!.mcp_tool, "run_query");
    assert.deepEqual(mcp!.findings, []);

    h.upstream.once(/^\/v1\/responses$/, (r) => json(responsesObject(String(JSON.parse(r.body).model), [{ type: "message", text: "ok" }])));
    await openai().responses.create({
      model: "gpt-5.5",
      input: [
        { role: "user", content: "status" },
        { type: "function_call", call_id: "call_exec01", name: "exec_command", arguments: items[0]!.arguments },
        { type: "function_call", call_id: "call_mcp01", name: "run_query", arguments: items[1]!.arguments },
        { type: "function_call_output", call_id: "call_exec01", output: 'Process exited with code 128\nOutput:\nfatal: not a git repository' },
        { type: "function_call_output", call_id: "call_mcp01", output: [{ type: "input_text", text: "[[1]]" }] },
      ],
    });
    await h.gateway.requestLog.flush();
    const execResult = await waitFor(async () => (await rowById(exec!.id)).result ?? undefined, 3000, "exec result");
    assert.equal(execResult.is_error, true, "a non-zero exit code is an error");
    assert.match(execResult.text ?? "", /not a git repository/);
    assert.deepEqual((await rowById(mcp!.id)).result && { e: (await rowById(mcp!.id)).result!.is_error, t: (await rowById(mcp!.id)).result!.text }, { e: false, t: "[[1]]" });
  });

  it("Codex code mode: the exec call is a parent row, each nested tool call its own row", async () => {
    const source = 'const r = await tools.exec_command({ cmd: "echo hello-from-fake" });\ntext(r);\nawait tools.mcp__fakedb__run_query({ sql: "DROP TABLE users" });\n';
    h.upstream.once(/^\/v1\/responses$/, () =>
      responsesStream("gpt-6.2-sol", [{ type: "custom_tool_call", call_id: "call_code01", name: "exec", namespace: "functions", input: source }]),
    );
    const final = await openai().responses.stream({ model: "gpt-6.2-sol", input: "run echo" }).finalResponse();
    const item = final.output[0];
    assert.ok(item?.type === "custom_tool_call");
    assert.equal(item.input, source);
    const requestId = lastId;
    const [parent, shell, mcp] = await rowsOf(requestId, 3);
    assert.equal(parent!.name, "exec");
    assert.equal(parent!.parent_id, null);
    assert.equal(parent!.arguments, source);
    assert.equal(parent!.action, "flag", "the parent carries its nested calls' strongest action");
    assert.deepEqual([shell!.parent_id, shell!.position, shell!.call_id, shell!.kind, shell!.name, shell!.command], [parent!.id, 0, "call_code01#0", "shell", "exec_command", "echo hello-from-fake"]);
    assert.deepEqual([mcp!.parent_id, mcp!.position, mcp!.kind, mcp!.mcp_server, mcp!.mcp_tool], [parent!.id, 1, "mcp", "fakedb", "run_query"]);
    assert.deepEqual(mcp!.findings.map((f) => f.ruleId), ["infra.sql-drop"]);
    assert.deepEqual(shell!.findings, []);

    h.upstream.once(/^\/v1\/responses$/, (r) => json(responsesObject(String(JSON.parse(r.body).model), [{ type: "message", text: "ok" }])));
    await openai().responses.create({
      model: "gpt-6.2-sol",
      input: [
        { type: "custom_tool_call", call_id: "call_code01", name: "exec", input: source },
        {
          type: "custom_tool_call_output",
          call_id: "call_code01",
          output: [
            { type: "input_text", text: "Script completed\nWall time 0.2 seconds\nOutput:\n" },
            { type: "input_text", text: '{"chunk_id":"68f837","exit_code":0,"output":"hello-from-fake\\n"}' },
          ],
        },
      ],
    });
    await h.gateway.requestLog.flush();
    const result = await waitFor(async () => (await rowById(parent!.id)).result ?? undefined, 3000, "code-mode result");
    assert.equal(result.is_error, false);
    assert.match(result.text ?? "", /hello-from-fake/);
  });

  it("OpenAI chat, streamed and not: shell argv calls become the script", async () => {
    const calls = [{ id: "call_chat01", name: "shell", input: { command: ["bash", "-lc", "ls -la"] } }];
    h.upstream.once(/^\/v1\/chat\/completions$/, () => chatStream("gpt-5-mini", calls, "Listing."));
    const stream = openai().chat.completions.stream({ model: "gpt-5-mini", messages: [{ role: "user", content: "ls" }] });
    const done = await stream.finalChatCompletion();
    assert.equal(done.choices[0]?.message.tool_calls?.[0]?.id, "call_chat01");
    const streamedId = lastId;
    const [streamed] = await rowsOf(streamedId, 1);
    assert.deepEqual([streamed!.kind, streamed!.command, streamed!.call_id], ["shell", "ls -la", "call_chat01"]);

    h.upstream.once(/^\/v1\/chat\/completions$/, () => json(chatCompletion("gpt-5-mini", [{ id: "call_chat02", name: "lookup", input: { q: "weather" } }])));
    const { response } = await openai().chat.completions.create({ model: "gpt-5-mini", messages: [{ role: "user", content: "weather" }] }).withResponse();
    const [fn] = await rowsOf(response.headers.get("x-keyless-request-id")!, 1);
    assert.deepEqual([fn!.kind, fn!.name, fn!.command], ["function", "lookup", null]);
    assert.deepEqual(fn!.arguments, { q: "weather" });
  });

  it("Gemini CLI (stream): calls without ids link to functionResponses by name; MCP names split", async () => {
    h.upstream.once(/streamGenerateContent$/, () =>
      geminiStream("gemini-3.8-flash", [
        { name: "run_shell_command", args: { command: "echo hello-from-fake", description: "hi" } },
        { name: "mcp_fakedb_run_query", args: { sql: "DROP TABLE users", wait_for_previous: true } },
      ]),
    );
    const names: string[] = [];
    for await (const chunk of await gemini().models.generateContentStream({ model: "gemini-3.8-flash", contents: "go" })) {
      for (const call of chunk.functionCalls ?? []) names.push(call.name ?? "");
    }
    assert.deepEqual(names, ["run_shell_command", "mcp_fakedb_run_query"]);
    const requestId = (await waitFor(async () => (await h.gateway.requestLog.list({ principal: "gina@example.com", limit: 1 }))[0], 3000, "row")).id;
    const [shell, mcp] = await rowsOf(requestId, 2);
    assert.deepEqual([shell!.kind, shell!.command, shell!.call_id], ["shell", "echo hello-from-fake", "resp_gemini_script#0"]);
    assert.deepEqual([mcp!.kind, mcp!.mcp_server, mcp!.mcp_tool], ["mcp", "fakedb", "run_query"]);

    // The CLI fills in its own ids ("<tool>_<ms>_<n>") when the model gave none.
    h.upstream.once(/generateContent$/, () => json({ candidates: [{ content: { role: "model", parts: [{ text: "done" }] }, finishReason: "STOP", index: 0 }], usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 1, totalTokenCount: 4 }, modelVersion: "gemini-3.8-flash" }));
    await gemini().models.generateContent({
      model: "gemini-3.8-flash",
      contents: [
        { role: "user", parts: [{ text: "go" }] },
        {
          role: "model",
          parts: [
            { functionCall: { id: "run_shell_command_1795714155000_0", name: "run_shell_command", args: { command: "echo hello-from-fake" } } },
            { functionCall: { id: "mcp_fakedb_run_query_1795714155000_1", name: "mcp_fakedb_run_query", args: { sql: "DROP TABLE users" } } },
          ],
        },
        {
          role: "user",
          parts: [
            { functionResponse: { id: "run_shell_command_1795714155000_0", name: "run_shell_command", response: { output: "<untrusted_context>\nOutput: hello-from-fake\n</untrusted_context>" } } },
            { functionResponse: { id: "mcp_fakedb_run_query_1795714155000_1", name: "mcp_fakedb_run_query", response: { error: "denied" } } },
          ],
        },
      ],
    });
    await h.gateway.requestLog.flush();
    const shellResult = await waitFor(async () => (await rowById(shell!.id)).result ?? undefined, 3000, "gemini shell result");
    assert.equal(shellResult.is_error, false);
    assert.match(shellResult.text ?? "", /hello-from-fake/);
    assert.equal((await rowById(mcp!.id)).result?.is_error, true);
  });
});
