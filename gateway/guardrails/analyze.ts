// The single entry point the gateway calls for every tool call a model asks for.
import type { ToolCall } from "../formats/types.js";
import { classifyToolCall, type ClassifyOptions } from "./classify.js";
import type { CompiledRules } from "./rules/compile.js";
import { callFindings, commandFindings, mcpFindings, pathFindings } from "./rules/match.js";
import { analyzeShell, DEFAULT_LIMITS, type SimpleCommand, type WalkLimits } from "./shell/index.js";
import type { Finding } from "./rules/types.js";
import { TimeLimit } from "./bounds/time-limit.js";
import type { ClassifiedToolCall } from "./types.js";

export interface AnalyzeOptions extends ClassifyOptions {
  readonly limits?: WalkLimits;
  /** A response's overall limit: once spent, every script still to analyse stops at once. */
  readonly within?: TimeLimit;
}

export interface ToolCallAnalysis {
  readonly classified: ClassifiedToolCall;
  /** Every rule that matched, across the call and its nested calls; the gateway acts on the strongest action. */
  readonly findings: Finding[];
  /** The simple commands its shell scripts run (nested calls' included), as analysed. */
  readonly commands: readonly SimpleCommand[];
  /** Why the analysis failed, if it did; the call then counts as unknown. */
  readonly error?: unknown;
}

export function analyzeToolCall(call: ToolCall, rules: CompiledRules, opts: AnalyzeOptions = {}): ToolCallAnalysis {
  try {
    const classified = classifyToolCall(call, opts);
    const commands: SimpleCommand[] = [];
    const findings = dedupe(analyzeClassified(classified, rules, opts.limits ?? DEFAULT_LIMITS, opts.within, commands));
    return { classified, findings, commands };
  } catch (error) {
    // Failed means unknown, never safe (arguments nested too deep to serialize, a parser overflow): as a bound reached.
    const classified: ClassifiedToolCall = { kind: "function", name: call.name, callId: call.id, args: call.input };
    return { classified, findings: callFindings(rules, new Set(["analysisLimit"]), call.name, call.id), commands: [], error };
  }
}

/** Findings for an already classified call (and its nested code-mode calls). */
export function analyzeClassified(
  c: ClassifiedToolCall,
  rules: CompiledRules,
  limits: WalkLimits = DEFAULT_LIMITS,
  within: TimeLimit = TimeLimit.NONE,
  /** Collects the simple commands analysed. */
  commands?: SimpleCommand[],
): Finding[] {
  const out: Finding[] = [];
  const fields = new Set<string>();
  const id = c.callId;
  for (const script of c.commands ?? []) {
    // Walking and matching share the script's time bound (rules run over every argument of every command).
    const time = within.within(limits.maxMillis);
    const shell = analyzeShell(script, limits, time);
    if (shell.problems.length > 0) fields.add("analysisIncomplete");
    if (shell.limits.length > 0) fields.add("analysisLimit");
    commands?.push(...shell.commands);
    for (const [i, sc] of shell.commands.entries()) {
      if (i % 32 === 31 && time.passed()) {
        fields.add("analysisLimit");
        break;
      }
      out.push(...commandFindings(rules, sc, id));
    }
  }
  if (c.kind === "file_edit") for (const p of c.paths ?? []) out.push(...pathFindings(rules, p, "write", p, id));
  for (const p of c.readPaths ?? []) out.push(...pathFindings(rules, p, "read", p, id));
  if (c.kind === "mcp") out.push(...mcpFindings(rules, c.mcpServer ?? "", c.mcpTool ?? "", c.args, id));
  if (c.sandboxEscalation) fields.add("sandboxEscalation");
  if (c.remote) fields.add("remote");
  if (c.unknownArgs) fields.add(c.kind === "shell" && (c.commands?.length ?? 0) === 0 ? "unknownShell" : "unknownArgs");
  out.push(...callFindings(rules, fields, label(c), id));
  for (const n of c.nested ?? []) out.push(...analyzeClassified(n, rules, limits, within, commands));
  // A provider-side call has already run when the gateway sees it: report, but blocking would only hide it.
  return c.remote ? out.map((f) => (f.action === "block" ? { ...f, action: "flag" } : f)) : out;
}

function label(c: ClassifiedToolCall): string {
  const first = c.commands?.[0] ?? c.paths?.[0];
  return first !== undefined ? `${c.name}: ${first}` : c.name;
}

function dedupe(list: Finding[]): Finding[] {
  const seen = new Set<string>();
  return list.filter((f) => {
    const k = `${f.ruleId}\0${f.command}\0${f.callId ?? ""}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
