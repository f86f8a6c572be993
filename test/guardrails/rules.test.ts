// The rule catalog as data: validation, overrides from config, and rules on paths, MCP arguments and calls.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { ToolCall } from "../../gateway/formats/types.js";
import { analyzeToolCall } from "../../gateway/guardrails/analyze.js";
import { Catalog, defaultCatalog, loadRules, type CompiledRules } from "../../gateway/guardrails/rules/index.js";
import { CATEGORIES } from "../../gateway/guardrails/rules/types.js";
import { UNTIMED } from "../helpers/guardrails.js";

const bash = (command: string): ToolCall => ({ id: "toolu_1", name: "Bash", shape: "tool_use", input: { command }, index: 0 });
const ids = (rules: CompiledRules, call: ToolCall): string[] => analyzeToolCall(call, rules, { limits: UNTIMED }).findings.map((f) => f.ruleId);

describe("catalog", () => {
  test("the shipped catalog validates and covers every category", () => {
    const cat = Catalog.parse(defaultCatalog());
    const ids = cat.rules.map((r) => r.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const c of CATEGORIES) assert.ok(cat.rules.some((r) => r.category === c), c);
    assert.ok(cat.rules.length >= 100);
  });

  test("findings carry rule id, category, severity, the rule's action, message, the matched simple command and call id", () => {
    const rules = loadRules(defaultCatalog());
    const f = analyzeToolCall(bash("npm test && git push --force origin main"), rules, { limits: UNTIMED }).findings.find((x) => x.ruleId === "git.push-force");
    assert.deepEqual(f, {
      ruleId: "git.push-force",
      category: "git_history_loss",
      severity: "high",
      action: "block",
      message: "force push rewrites remote history",
      command: "git push --force origin main",
      callId: "toolu_1",
    });
  });

  test("compiled rules expose every rule's metadata with its effective action", () => {
    const rules = loadRules(defaultCatalog(), { set: { "git.push-force": { action: "flag" } } });
    assert.equal(rules.metas.length, rules.ruleIds.length);
    assert.deepEqual(rules.metas.find((m) => m.id === "git.push-force")?.action, "flag");
    assert.deepEqual(rules.metas.find((m) => m.id === "obf.unknown-command")?.action, "log");
  });

  test("loading does not mutate the base catalog, and compiled sets are independent", () => {
    const base = defaultCatalog();
    const snapshot = JSON.stringify(base);
    const a = loadRules(base, { disable: ["git.push-force"] });
    const b = loadRules(base);
    assert.equal(JSON.stringify(base), snapshot);
    assert.ok(!ids(a, bash("git push --force")).includes("git.push-force"));
    assert.ok(ids(b, bash("git push --force")).includes("git.push-force"));
  });
});

describe("overrides", () => {
  test("disable by id", () => {
    const rules = loadRules(defaultCatalog(), { disable: ["fs.rm-root-or-home", "fs.rm-no-preserve-root"] });
    assert.deepEqual(ids(rules, bash("rm -rf /")), []);
  });

  test("change severity and action by id", () => {
    const rules = loadRules(defaultCatalog(), { set: { "git.push-force": { action: "log" }, "git.reset-hard": { severity: "low", action: "log" } } });
    const f = analyzeToolCall(bash("git push -f; git reset --hard"), rules, { limits: UNTIMED }).findings;
    assert.deepEqual(
      f.map((x) => [x.ruleId, x.severity, x.action]),
      [
        ["git.push-force", "high", "log"],
        ["git.reset-hard", "low", "log"],
      ],
    );
  });

  test("add a rule, replace a rule by id, override a named pattern", () => {
    const rules = loadRules(defaultCatalog(), {
      rules: [
        {
          id: "org.no-terraform-in-ci",
          category: "infra_destruction",
          severity: "medium",
          message: "terraform is run by the deploy pipeline only",
          target: "command",
          match: { command: ["terraform", "tofu"], sub: [["apply", "import", "state"]] },
        },
        {
          id: "git.push-force",
          category: "git_history_loss",
          severity: "critical",
          message: "no force pushes at all",
          target: "command",
          match: { command: ["git"], sub: [["push"]], flags: { any: ["--force", "-f", "--force-with-lease"] } },
        },
      ],
      patterns: { forge_host: "^(github\\.com|git\\.internal\\.example)$" },
    });
    const f = analyzeToolCall(bash("terraform apply tfplan"), rules, { limits: UNTIMED }).findings;
    assert.deepEqual(f.map((x) => [x.ruleId, x.action]), [["org.no-terraform-in-ci", "flag"]]);
    const push = analyzeToolCall(bash("git push --force-with-lease origin feat"), rules, { limits: UNTIMED }).findings.find((x) => x.ruleId === "git.push-force");
    assert.equal(push?.action, "block");
    assert.ok(!ids(rules, bash("git remote add mirror https://git.internal.example/x.git")).includes("exf.remote-repoint"));
    assert.ok(ids(rules, bash("git remote add mirror https://gitlab.com/x.git")).includes("exf.remote-repoint"));
  });

  test("mistakes are refused with a specific message", () => {
    assert.throws(() => loadRules(defaultCatalog(), { disable: ["no.such-rule"] }), /cannot disable unknown rule "no.such-rule"/);
    assert.throws(() => loadRules(defaultCatalog(), { set: { "nope.x": { action: "log" } } }), /cannot change unknown rule "nope.x"/);
    const bad = (match: unknown): unknown => ({
      rules: [{ id: "x.bad", category: "obfuscation", severity: "low", message: "m", target: "command", match }],
    });
    assert.throws(() => loadRules(defaultCatalog(), bad({ args: { any: "([" } })), /rule x\.bad: invalid pattern/);
    assert.throws(() => loadRules(defaultCatalog(), bad({ args: { any: "{{missing}}" } })), /unknown pattern \{\{missing\}\}/);
    assert.throws(() => loadRules(defaultCatalog(), bad({ raw: "rm -rf" })));
    assert.throws(() => loadRules(defaultCatalog(), { rules: [{ id: "x", category: "nope", severity: "low", message: "m", target: "call", match: { field: "remote" } }] }));
    const dup = Catalog.parse(defaultCatalog());
    assert.throws(() => loadRules({ ...dup, rules: [...dup.rules, dup.rules[0]] }), /duplicate rule id/);
  });
});

describe("non-shell targets", () => {
  const rules = loadRules(defaultCatalog());
  const edit = (name: string, input: unknown): ToolCall => ({ id: "e1", name, shape: "tool_use", input, index: 0 });

  test("file edits to agent config, workflows, ssh and system files", () => {
    const cases: [string, unknown, string][] = [
      ["Write", { file_path: "/home/runner/work/app/app/.claude/settings.local.json", content: "{}" }, "sbx.write-agent-config"],
      ["Edit", { file_path: "~/.codex/config.toml", old_string: "a", new_string: "b" }, "sbx.write-agent-config"],
      ["Write", { file_path: "CLAUDE.md", content: "x" }, "sbx.write-agent-config"],
      ["write_file", { file_path: "AGENTS.md", content: "x" }, "sbx.write-agent-config"],
      ["replace", { file_path: ".github/workflows/release.yml", old_string: "a", new_string: "b" }, "sbx.write-workflow"],
      ["Write", { file_path: "/home/runner/.ssh/authorized_keys", content: "ssh-ed25519 AAAA" }, "priv.authorized-keys"],
      ["Write", { file_path: "/home/runner/.ssh/config", content: "Host *" }, "sbx.write-ssh-dir"],
      ["Edit", { file_path: "/etc/sudoers", old_string: "a", new_string: "b" }, "priv.write-system-config"],
    ];
    for (const [name, input, id] of cases) assert.ok(ids(rules, edit(name, input)).includes(id), `${name} ${JSON.stringify(input)}`);
    assert.deepEqual(ids(rules, edit("Write", { file_path: "src/app.ts", content: "x" })), []);
    const patch = "*** Begin Patch\n*** Update File: .github/workflows/ci.yml\n@@\n-a\n+b\n*** End Patch\n";
    assert.ok(ids(rules, { id: "p", name: "apply_patch", shape: "custom_tool_call", input: patch, index: 0 }).includes("sbx.write-workflow"));
  });

  test("reads of credential files through a read tool", () => {
    assert.ok(ids(rules, edit("Read", { file_path: "/home/runner/.aws/credentials" })).includes("cred.read-credential-file"));
    assert.deepEqual(ids(rules, edit("Read", { file_path: "src/index.ts" })), []);
  });

  test("SQL in MCP arguments", () => {
    const mcp = (args: unknown): ToolCall => ({ id: "m", name: "mcp__db__run_query", shape: "tool_use", input: args, index: 0 });
    assert.ok(ids(rules, mcp({ sql: "DROP TABLE users" })).includes("infra.sql-drop"));
    assert.ok(ids(rules, mcp({ query: "delete from users;" })).includes("infra.sql-delete-all"));
    assert.ok(ids(rules, mcp({ params: { statement: "TRUNCATE orders" } })).includes("infra.sql-truncate"));
    assert.deepEqual(ids(rules, mcp({ sql: "DELETE FROM users WHERE id = 1" })), []);
    assert.deepEqual(ids(rules, mcp({ sql: "SELECT 'DROP TABLE x' AS s -- DROP TABLE y" })), []);
    assert.ok(ids(rules, { ...mcp({ table: "users" }), name: "mcp__db__drop_table" }).includes("infra.mcp-destructive-tool"));
  });

  test("sandbox escalation attributes", () => {
    assert.ok(ids(rules, edit("Bash", { command: "ls", dangerouslyDisableSandbox: true })).includes("sbx.disable-sandbox-call"));
    const codex: ToolCall = { id: "c", name: "exec_command", shape: "function_call", input: { cmd: "ls", sandbox_permissions: "require_escalated" }, index: 0 };
    assert.ok(ids(rules, codex).includes("sbx.disable-sandbox-call"));
    const remote: ToolCall = { id: "r", name: "bash_code_execution", shape: "server_tool_use", input: { command: "ls" }, index: 0 };
    assert.deepEqual(analyzeToolCall(remote, rules, { limits: UNTIMED }).findings.map((f) => [f.ruleId, f.action]), [["obf.remote-execution", "log"]]);
    // It already ran at the provider: findings are reported, never "block".
    const wipe = analyzeToolCall({ ...remote, input: { command: "rm -rf /" } }, rules, { limits: UNTIMED }).findings.find((f) => f.ruleId === "fs.rm-root-or-home");
    assert.equal(wipe?.action, "flag");
  });
});
