// Classification of every agent's tool-call shapes. Capture-based tests read the real payloads from
// test/fixtures/captures; a missing file fails the test (it must not silently skip).
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { describe, test } from "node:test";
import type { ToolCall, ToolCallShape } from "../../gateway/formats/types.js";
import { analyzeToolCall } from "../../gateway/guardrails/analyze.js";
import { argvToScript, classifyToolCall } from "../../gateway/guardrails/classify.js";
import { defaultCatalog, loadRules } from "../../gateway/guardrails/rules/index.js";
import { UNTIMED } from "../helpers/guardrails.js";

const CAPTURES = new URL("../fixtures/captures/", import.meta.url);

type Json = Record<string, unknown>;

function capture(path: string): Json {
  const url = new URL(path, CAPTURES);
  assert.ok(existsSync(url), `capture ${url.pathname} is missing — test/fixtures/captures is incomplete`);
  return JSON.parse(readFileSync(url, "utf8")) as Json;
}

function body(path: string): Json {
  return capture(path).body as Json;
}

function call(name: string, input: unknown, extra: Partial<ToolCall> = {}): ToolCall {
  return { id: "call_1", name, shape: "tool_use", input, index: 0, ...extra };
}

/** Anthropic request: the assistant tool_use blocks echoed back in `messages`. */
function anthropicToolUses(path: string): ToolCall[] {
  const messages = body(path).messages as { content: unknown }[];
  return messages
    .flatMap((m) => (Array.isArray(m.content) ? (m.content as Json[]) : []))
    .filter((b) => b.type === "tool_use")
    .map((b, i) => ({ id: b.id as string, name: b.name as string, shape: "tool_use" as const, input: b.input, index: i }));
}

/** Responses request: function_call / custom_tool_call items echoed back in `input`. */
function responsesCalls(path: string): ToolCall[] {
  const items = body(path).input as Json[];
  return items
    .filter((it) => it.type === "function_call" || it.type === "custom_tool_call")
    .map((it, i) => ({
      id: it.call_id as string,
      name: it.name as string,
      shape: it.type as ToolCallShape,
      input: it.type === "function_call" ? JSON.parse(it.arguments as string) : it.input,
      index: i,
      ...(typeof it.namespace === "string" ? { namespace: it.namespace } : {}),
    }));
}

/** Gemini request: functionCall parts echoed back in `contents`. */
function geminiCalls(path: string): ToolCall[] {
  const contents = body(path).contents as { parts: Json[] }[];
  return contents
    .flatMap((c) => c.parts)
    .filter((p) => p.functionCall)
    .map((p, i) => {
      const fc = p.functionCall as Json;
      return { id: fc.id as string, name: fc.name as string, shape: "function_call_gemini" as const, input: fc.args, index: i };
    });
}

describe("captured payloads", () => {
  const rules = loadRules(defaultCatalog());

  test("the classifier's field names are the ones the agents declare", () => {
    const bash = (body("claude-code/tool.1.POST-messages.json").tools as Json[]).find((t) => t.name === "Bash");
    const props = Object.keys(((bash?.input_schema as Json).properties as Json) ?? {});
    for (const k of ["command", "run_in_background", "dangerouslyDisableSandbox"]) assert.ok(props.includes(k), `Bash.${k}`);
    const codexTools = body("codex/tool.1.POST-responses.json").tools as Json[];
    const exec = codexTools.find((t) => t.name === "exec_command");
    assert.ok(Object.keys((exec?.parameters as Json).properties as Json).includes("cmd"));
    assert.ok(Object.keys((exec?.parameters as Json).properties as Json).includes("sandbox_permissions"));
    const stdin = codexTools.find((t) => t.name === "write_stdin");
    assert.ok(Object.keys((stdin?.parameters as Json).properties as Json).includes("chars"));
    const gemini = (body("gemini/tool.2.POST-streamGenerateContent.json").tools as { functionDeclarations?: Json[] }[])
      .flatMap((t) => t.functionDeclarations ?? [])
      .find((f) => f.name === "run_shell_command");
    const gprops = Object.keys((gemini?.parametersJsonSchema as Json).properties as Json);
    assert.ok(gprops.includes("command") && gprops.includes("is_background"));
    const codeMode = capture("codex/codemode.additional_tools.json").tools as { tools: Json[] }[];
    const execTool = codeMode.flatMap((ns) => ns.tools).find((t) => t.name === "exec");
    assert.match(execTool?.description as string, /exec_command\(args: \{[\s\S]*cmd: string;[\s\S]*sandbox_permissions\?/);
  });

  test("Claude Code Bash tool_use", () => {
    const [c] = anthropicToolUses("claude-code/tool.2.POST-messages-tool_result.json");
    assert.ok(c);
    const k = classifyToolCall(c);
    assert.equal(k.kind, "shell");
    assert.deepEqual(k.commands, ["echo hello-from-fake"]);
    assert.equal(k.callId, "toolu_fake01");
    assert.deepEqual(analyzeToolCall(c, rules, { limits: UNTIMED }).findings, []);
  });

  test("Claude Code Bash refused locally (deny capture) still classifies", () => {
    const [c] = anthropicToolUses("claude-code/deny.2.POST-messages-tool_result-is_error.json");
    assert.ok(c);
    assert.deepEqual(classifyToolCall(c).commands, ["touch <path>"]);
  });

  test("Claude Code MCP tool_use mcp__fakedb__run_query with DROP TABLE", () => {
    const [c] = anthropicToolUses("claude-code/mcp.2.POST-messages-mcp-tool_result.json");
    assert.ok(c);
    const { classified, findings } = analyzeToolCall(c, rules, { limits: UNTIMED });
    assert.equal(classified.kind, "mcp");
    assert.equal(classified.mcpServer, "fakedb");
    assert.equal(classified.mcpTool, "run_query");
    assert.ok(findings.some((f) => f.ruleId === "infra.sql-drop" && f.category === "infra_destruction" && f.callId === "toolu_fake01"));
  });

  test("Anthropic fixture tool_use", () => {
    const msg = JSON.parse(readFileSync(new URL("fixtures/anthropic-messages-tool_use.json", CAPTURES), "utf8")) as { content: Json[] };
    const b = msg.content[0] as Json;
    const k = classifyToolCall(call(b.name as string, b.input, { id: b.id as string }));
    assert.deepEqual(k.commands, ["echo hello"]);
  });

  test("Codex exec_command function_call", () => {
    const [c] = responsesCalls("codex/tool.2.POST-responses-function_call_output.json");
    assert.ok(c);
    const k = classifyToolCall(c);
    assert.equal(k.kind, "shell");
    assert.deepEqual(k.commands, ["echo hello-from-fake"]);
  });

  test("Codex MCP call via namespace mcp__fakedb", () => {
    const [c] = responsesCalls("codex/mcp.2.POST-responses-namespace-call.json");
    assert.ok(c);
    assert.equal(c.namespace, "mcp__fakedb");
    const { classified, findings } = analyzeToolCall(c, rules, { limits: UNTIMED });
    assert.equal(classified.kind, "mcp");
    assert.equal(classified.mcpServer, "fakedb");
    assert.equal(classified.mcpTool, "run_query");
    assert.ok(findings.some((f) => f.ruleId === "infra.sql-drop"));
  });

  test("Codex code mode exec → nested exec_command", () => {
    const [c] = responsesCalls("codex/codemode.2.POST-responses-custom_tool_call-exec.json");
    assert.ok(c);
    assert.equal(c.shape, "custom_tool_call");
    const k = classifyToolCall(c);
    assert.equal(k.kind, "function");
    assert.equal(k.nested?.length, 1);
    const n = k.nested?.[0];
    assert.equal(n?.kind, "shell");
    assert.equal(n?.name, "exec_command");
    assert.deepEqual(n?.commands, ["echo hello-from-fake"]);
    assert.equal(n?.unknownArgs, undefined);
    assert.equal(n?.callId, "call_fake01#0");
  });

  test("Codex apply_patch custom tool", () => {
    const [c] = responsesCalls("codex/patch.2.POST-responses-apply_patch.json");
    assert.ok(c);
    const k = classifyToolCall(c);
    assert.equal(k.kind, "file_edit");
    assert.deepEqual(k.paths, ["hello-patch.txt"]);
  });

  test("Gemini run_shell_command", () => {
    const [c] = geminiCalls("gemini/tool.3.POST-streamGenerateContent-functionResponse.json");
    assert.ok(c);
    const k = classifyToolCall(c);
    assert.equal(k.kind, "shell");
    assert.deepEqual(k.commands, ["echo hello-from-fake"]);
  });

  test("Gemini mcp_fakedb_run_query: split on the first underscore, ambiguity recorded; configured servers disambiguate", () => {
    const [c] = geminiCalls("gemini/mcp.3.POST-streamGenerateContent-mcp-functionResponse.json");
    assert.ok(c);
    const guess = classifyToolCall(c);
    assert.equal(guess.kind, "mcp");
    assert.equal(guess.mcpServer, "fakedb");
    assert.equal(guess.mcpTool, "run_query");
    assert.equal(guess.mcpNameAmbiguous, true);
    const known = classifyToolCall(c, { mcpServers: ["fakedb"] });
    assert.equal(known.mcpNameAmbiguous, undefined);
    assert.ok(analyzeToolCall(c, rules, { limits: UNTIMED }).findings.some((f) => f.ruleId === "infra.sql-drop"));
    const multi = classifyToolCall({ ...c, name: "mcp_my_db_run_query" }, { mcpServers: ["my_db"] });
    assert.deepEqual([multi.mcpServer, multi.mcpTool, multi.mcpNameAmbiguous], ["my_db", "run_query", undefined]);
  });
});

describe("agent shapes", () => {
  test("Claude Bash flags: dangerouslyDisableSandbox, run_in_background", () => {
    const k = classifyToolCall(call("Bash", { command: "ls", dangerouslyDisableSandbox: true, run_in_background: true }));
    assert.equal(k.sandboxEscalation, "dangerouslyDisableSandbox");
    assert.equal(k.background, true);
  });

  test("Claude file tools → file_edit paths; Read → readPaths", () => {
    for (const [name, input, path] of [
      ["Edit", { file_path: "/w/.claude/settings.json", old_string: "a", new_string: "b" }, "/w/.claude/settings.json"],
      ["Write", { file_path: "AGENTS.md", content: "x" }, "AGENTS.md"],
      ["MultiEdit", { file_path: "src/a.ts", edits: [] }, "src/a.ts"],
      ["NotebookEdit", { notebook_path: "nb.ipynb", new_source: "x" }, "nb.ipynb"],
      ["write_file", { file_path: ".github/workflows/ci.yml", content: "x" }, ".github/workflows/ci.yml"],
      ["replace", { file_path: "README.md", old_string: "a", new_string: "b" }, "README.md"],
    ] as const) {
      const k = classifyToolCall(call(name, input));
      assert.equal(k.kind, "file_edit", name);
      assert.deepEqual(k.paths, [path], name);
    }
    const r = classifyToolCall(call("Read", { file_path: "/home/runner/.ssh/id_rsa" }));
    assert.equal(r.kind, "function");
    assert.deepEqual(r.readPaths, ["/home/runner/.ssh/id_rsa"]);
  });

  test("Anthropic server tools run remotely", () => {
    const k = classifyToolCall(call("bash_code_execution", { command: "ls /" }, { shape: "server_tool_use" }));
    assert.deepEqual([k.kind, k.remote, k.commands], ["shell", true, ["ls /"]]);
    const m = classifyToolCall(call("query", { sql: "x" }, { shape: "mcp_tool_use", namespace: "db" }));
    assert.deepEqual([m.kind, m.mcpServer, m.mcpTool, m.remote], ["mcp", "db", "query", true]);
  });

  test("Codex exec_command sandbox_permissions require_escalated", () => {
    const k = classifyToolCall(call("exec_command", { cmd: "ls", sandbox_permissions: "require_escalated" }, { shape: "function_call" }));
    assert.equal(k.sandboxEscalation, "require_escalated");
  });

  test("Codex write_stdin keystrokes are shell input", () => {
    const k = classifyToolCall(call("write_stdin", { session_id: 3, chars: "rm -rf /\n" }, { shape: "function_call" }));
    assert.deepEqual([k.kind, k.shellInput, k.commands], ["shell", "stdin", ["rm -rf /\n"]]);
    const poll = classifyToolCall(call("write_stdin", { session_id: 3 }, { shape: "function_call" }));
    assert.deepEqual(poll.commands, []);
  });

  test("Codex legacy shell argv: bash -lc unwraps, other argv is quoted", () => {
    const k = classifyToolCall(call("shell", { command: ["bash", "-lc", "npm test && rm -rf /"] }, { shape: "function_call" }));
    assert.deepEqual(k.commands, ["npm test && rm -rf /"]);
    assert.equal(argvToScript(["/bin/zsh", "-c", "ls"]), "ls");
    assert.equal(argvToScript(["git", "commit", "-m", "it's done"]), "git commit -m 'it'\\''s done'");
    const viaPatch = classifyToolCall(call("shell", { command: ["apply_patch", "*** Begin Patch\n*** Delete File: a.ts\n*** End Patch\n"] }));
    assert.deepEqual([viaPatch.kind, viaPatch.paths], ["file_edit", ["a.ts"]]);
  });

  test("Codex shell_command, local_shell_call, shell_call, apply_patch_call", () => {
    assert.deepEqual(classifyToolCall(call("shell_command", { command: "ls -la" })).commands, ["ls -la"]);
    const local = classifyToolCall(call("local_shell", { action: { type: "exec", command: ["sh", "-c", "id"] } }, { shape: "local_shell_call" }));
    assert.deepEqual(local.commands, ["id"]);
    const sc = classifyToolCall(call("shell", { action: { commands: ["ls", "pwd"] } }, { shape: "shell_call" }));
    assert.deepEqual(sc.commands, ["ls", "pwd"]);
    const ap = classifyToolCall(call("apply_patch", { operation: { type: "update_file", path: "src/x.ts", diff: "" } }, { shape: "apply_patch_call" }));
    assert.deepEqual([ap.kind, ap.paths], ["file_edit", ["src/x.ts"]]);
  });

  test("apply_patch envelope paths: add, update, delete, move", () => {
    const patch = [
      "*** Begin Patch",
      "*** Add File: new.txt",
      "+hi",
      "*** Update File: src/a.ts",
      "*** Move to: src/b.ts",
      "@@",
      "-x",
      "+y",
      "*** Delete File: .github/workflows/ci.yml",
      "*** End Patch",
    ].join("\n");
    const k = classifyToolCall(call("apply_patch", patch, { shape: "custom_tool_call" }));
    assert.deepEqual(k.paths, ["new.txt", "src/a.ts", "src/b.ts", ".github/workflows/ci.yml"]);
  });

  test("generic agents: command/cmd/script strings and argv arrays are shell; others are functions", () => {
    assert.deepEqual(classifyToolCall(call("run", { script: "make" })).commands, ["make"]);
    assert.deepEqual(classifyToolCall(call("terminal", { cmd: "ls" })).commands, ["ls"]);
    assert.deepEqual(classifyToolCall(call("spawn", { argv: ["rm", "-rf", "/"] })).commands, ["rm -rf /"]);
    const f = classifyToolCall(call("WebFetch", { url: "https://x", prompt: "p" }));
    assert.equal(f.kind, "function");
    const mcpShell = classifyToolCall(call("mcp__desktop__run_command", { command: "rm -rf ~" }));
    assert.deepEqual([mcpShell.kind, mcpShell.commands], ["mcp", ["rm -rf ~"]]);
  });

  test("broken JSON arguments are unknown, never safe", () => {
    const k = classifyToolCall(call("exec_command", { _unparsed: '{"cmd": "rm -rf' }, { shape: "function_call" }));
    assert.deepEqual([k.kind, k.unknownArgs, k.commands], ["shell", true, []]);
    const { findings } = analyzeToolCall(call("Bash", { _unparsed: "{" }), loadRules(defaultCatalog()));
    assert.ok(findings.some((f) => f.ruleId === "obf.unknown-shell-args" && f.action === "flag"));
  });
});
