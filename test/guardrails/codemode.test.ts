// Codex code mode: nested tool calls recovered from the `exec` JavaScript.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ToolCall } from "../../gateway/formats/types.js";
import { analyzeToolCall } from "../../gateway/guardrails/analyze.js";
import { classifyToolCall } from "../../gateway/guardrails/classify.js";
import { scanCodeMode } from "../../gateway/guardrails/codemode.js";
import { defaultCatalog, loadRules } from "../../gateway/guardrails/rules/index.js";
import { UNTIMED } from "../helpers/guardrails.js";

const rules = loadRules(defaultCatalog());

function exec(source: string): ToolCall {
  return { id: "call_x", name: "exec", namespace: "functions", shape: "custom_tool_call", input: source, index: 0 };
}

test("literal arguments in every call form, with the @exec pragma line", () => {
  const src = [
    '// @exec: {"yield_time_ms": 10000, "max_output_tokens": 1000}',
    'const a = await tools.exec_command({ cmd: "git status" });',
    "const b = await tools[\"exec_command\"]({ cmd: `npm test` });",
    "tools?.exec_command({ cmd: 'ls' + ' -la' });",
    'const r = await tools.mcp__fakedb__run_query({ sql: "DROP TABLE users" });',
    'await tools.apply_patch("*** Begin Patch\\n*** Add File: .claude/settings.json\\n+{}\\n*** End Patch\\n");',
    "text(a.output + b.output);",
  ].join("\n");
  const k = classifyToolCall(exec(src));
  const nested = k.nested ?? [];
  assert.deepEqual(
    nested.map((n) => [n.kind, n.name, n.commands ?? n.paths ?? n.mcpTool, n.unknownArgs ?? false]),
    [
      ["shell", "exec_command", ["git status"], false],
      ["shell", "exec_command", ["npm test"], false],
      ["shell", "exec_command", ["ls -la"], false],
      ["mcp", "mcp__fakedb__run_query", "run_query", false],
      ["file_edit", "apply_patch", [".claude/settings.json"], false],
    ],
  );
  const ids = analyzeToolCall(exec(src), rules, { limits: UNTIMED }).findings.map((f) => f.ruleId);
  assert.ok(ids.includes("infra.sql-drop"));
  assert.ok(ids.includes("sbx.write-agent-config"));
});

test("consts bound to literals are resolved", () => {
  const k = classifyToolCall(exec('const c = "rm -rf ~";\nconst args = { cmd: c };\nawait tools.exec_command(args);'));
  assert.deepEqual(k.nested?.[0]?.commands, ["rm -rf ~"]);
  assert.equal(k.nested?.[0]?.unknownArgs, undefined);
});

test("template expressions become unknown words; the rest of the command is still analysed", () => {
  const k = classifyToolCall(exec("for (const d of dirs) await tools.exec_command({ cmd: `rm -rf ${d}` });"));
  const n = k.nested?.[0];
  assert.equal(n?.unknownArgs, true);
  assert.deepEqual(n?.commands, ["rm -rf ${__js0}"]);
  const ids = analyzeToolCall(exec("await tools.exec_command({ cmd: `rm -rf ${d}` });"), rules, { limits: UNTIMED }).findings.map((f) => f.ruleId);
  assert.ok(ids.includes("fs.rm-dynamic-target"));
  assert.ok(ids.includes("obf.unknown-args"));
});

test("a wholly non-literal command is unknown shell (flagged), a computed tool name is unknown", () => {
  const k = classifyToolCall(exec("const r = await tools.exec_command({ cmd: await load('next') });"));
  assert.deepEqual([k.nested?.[0]?.kind, k.nested?.[0]?.commands, k.nested?.[0]?.unknownArgs], ["shell", [], true]);
  const f = analyzeToolCall(exec("await tools.exec_command({ cmd: load('x') });"), rules, { limits: UNTIMED }).findings;
  assert.ok(f.some((x) => x.ruleId === "obf.unknown-shell-args" && x.action === "flag"));
  const dyn = scanCodeMode("for (const t of ALL_TOOLS) await tools[t.name]({});");
  assert.deepEqual(dyn.calls, [{ name: undefined, input: {}, unknownArgs: true }]);
});

test("escalation inside code mode is seen", () => {
  const f = analyzeToolCall(exec('await tools.exec_command({ cmd: "ls", sandbox_permissions: "require_escalated" });'), rules, { limits: UNTIMED }).findings;
  assert.ok(f.some((x) => x.ruleId === "sbx.disable-sandbox-call"));
});

test("unparseable source is unknown, not empty-and-safe", () => {
  const k = classifyToolCall(exec("await tools.exec_command({ cmd: "));
  assert.equal(k.unknownArgs, true);
  assert.ok(analyzeToolCall(exec("}}}"), rules).findings.some((f) => f.ruleId === "obf.unknown-args"));
});

test("plain script code (no top-level await) parses as a script too", () => {
  const calls = scanCodeMode("with (tools) { }\ntools.exec_command({cmd: 'id'});").calls;
  assert.deepEqual(calls.map((c) => c.input), [{ cmd: "id" }]);
});
