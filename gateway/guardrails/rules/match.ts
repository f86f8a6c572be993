// Applying compiled rules to the structured pieces of a tool call.
import { normalizePath } from "../shell/effects.js";
import type { SimpleCommand } from "../shell/types.js";
import type { Finding } from "./types.js";
import type { CompiledRules, RuleMeta } from "./compile.js";

function finding(meta: RuleMeta, command: string, callId: string | undefined): Finding {
  return {
    ruleId: meta.id,
    category: meta.category,
    severity: meta.severity,
    action: meta.action,
    message: meta.message,
    command,
    ...(callId !== undefined ? { callId } : {}),
  };
}

/** SQL without comments and string literals, so `SELECT 'drop table x'` is data, not a statement. */
export function sqlStatements(sql: string): string {
  return sql
    .replace(/--[^\n]*/g, " ")
    .replace(/\/\*[\s\S]*?\*\//g, " ")
    .replace(/'(?:[^']|'')*'/g, "''")
    .replace(/\$\$[\s\S]*?\$\$/g, "''");
}

export function sqlFindings(rules: CompiledRules, sql: string, command: string, callId?: string): Finding[] {
  const text = sqlStatements(sql);
  return rules.sql.filter((r) => r.patterns.some((p) => p.test(text))).map((r) => finding(r.meta, command, callId));
}

export function pathFindings(
  rules: CompiledRules,
  path: string,
  access: "read" | "write",
  command: string,
  callId?: string,
): Finding[] {
  const p = normalizePath(path);
  return rules.path
    .filter((r) => (access === "read" ? r.read : r.write) && r.test(p))
    .map((r) => finding(r.meta, command, callId));
}

export function commandFindings(rules: CompiledRules, c: SimpleCommand, callId?: string): Finding[] {
  const out: Finding[] = [];
  for (const r of rules.commandByName.get(c.name) ?? []) if (r.test(c)) out.push(finding(r.meta, c.text, callId));
  for (const r of rules.commandGeneric) if (r.test(c)) out.push(finding(r.meta, c.text, callId));
  for (const p of c.reads) out.push(...pathFindings(rules, p, "read", c.text, callId));
  for (const p of c.writes) out.push(...pathFindings(rules, p, "write", c.text, callId));
  if (c.code?.lang === "sql") out.push(...sqlFindings(rules, c.code.text, c.text, callId));
  else if (c.code) {
    const code = c.code;
    for (const r of rules.code) if (r.test(code)) out.push(finding(r.meta, c.text, callId));
  }
  return out;
}

export function mcpFindings(
  rules: CompiledRules,
  server: string,
  tool: string,
  args: unknown,
  callId?: string,
): Finding[] {
  const json = JSON.stringify(args ?? {});
  const label = `mcp ${server}/${tool} ${json.length > 200 ? `${json.slice(0, 200)}…` : json}`;
  const out = rules.mcp.filter((r) => r.test(server, tool, json)).map((r) => finding(r.meta, label, callId));
  for (const sql of sqlArguments(args, rules.sqlArgKeys)) out.push(...sqlFindings(rules, sql, label, callId));
  return out;
}

/** String values under SQL-looking keys, a few levels deep. */
function sqlArguments(v: unknown, keys: RegExp, depth = 0): string[] {
  if (depth > 3 || v === null || typeof v !== "object") return [];
  if (Array.isArray(v)) return v.flatMap((x) => sqlArguments(x, keys, depth + 1));
  const out: string[] = [];
  for (const [k, x] of Object.entries(v)) {
    if (typeof x === "string" && keys.test(k)) out.push(x);
    else out.push(...sqlArguments(x, keys, depth + 1));
  }
  return out;
}

export function callFindings(rules: CompiledRules, fields: ReadonlySet<string>, label: string, callId?: string): Finding[] {
  return rules.call.filter((r) => fields.has(r.field)).map((r) => finding(r.meta, label, callId));
}
