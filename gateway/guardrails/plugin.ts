// The tools module: classifies and analyses every tool call a model asks for, blocks per the caller's guardrails
// (rewriting the response the client sees), stores one row per call with its request, links later results.
import type { Hono } from "hono";
import type { GatewayModule } from "../proxy/feature.js";
import { mountToolCallApi } from "./api.js";
import type { GatewayEnv } from "../http/env.js";
import type { ToolCall } from "../formats/types.js";
import { type Exchange, type ExchangePlugin, type Outcome, stateSlot } from "../proxy/exchange.js";
import { MAX_JSON_DEPTH, nestsDeeperThan } from "../proxy/json-shape.js";
import { clientSession } from "../proxy/record.js";
import type { Store } from "../store/db.js";
import type { RowExtension } from "../store/requests.js";
import type { StoredFinding, ToolCallRecord } from "../store/tool-calls.js";
import { analyzeToolCall } from "./analyze.js";
import { BLOCKERS } from "../dialects/index.js";
import type { Verdict } from "../formats/blocker.js";
import { GuardrailPolicy, strongest } from "./actions.js";
import { type CallFacts, SessionFlows, callFacts } from "./flow.js";
import type { Action, Finding } from "./rules/types.js";
import { maskValue } from "./secrets/body.js";
import { type SecretsModule, secretResults, secretsToMask } from "./secrets-plugin.js";
import type { ClassifiedToolCall } from "./types.js";
import { TimeLimit, cpuMs } from "./bounds/time-limit.js";

const GUARDRAIL_BLOCKED = "guardrail_blocked";
const GUARDRAIL_FLAGGED = "guardrail_flagged";
/**
 * Analysis CPU time one response may use in all (each script is bounded on its own too). It runs on the event loop,
 * between other callers' work: past this, the response's remaining calls are "not analysed" at once.
 */
const RESPONSE_ANALYSIS_MS = 50;

interface Analysed {
  readonly call: ToolCall;
  readonly classified: ClassifiedToolCall;
  /** Findings (incl. nested calls') with the action this caller's guardrails give them. */
  readonly findings: readonly Finding[];
  /** The strongest action over the call's findings (incl. nested calls); "log" without findings. */
  readonly action: Action;
  /** What the call does that a later call of the session can complete (flow.ts). */
  readonly facts?: CallFacts;
}

interface ToolsState {
  readonly policy: GuardrailPolicy;
  readonly mcpServers: readonly string[];
  readonly analysed: Map<string, Analysed>;
  readonly blocked: Set<string>;
  analysisMs: number;
  records?: readonly ToolCallRecord[];
}

const TOOLS_STATE = stateSlot<ToolsState>("tools");

export interface ToolsModuleDeps {
  readonly store: Store;
  readonly onError: (err: unknown, context: string) => void;
  /** Secrets in tool-call arguments; and what to mask out of stored calls and results. */
  readonly secrets?: SecretsModule;
}

export interface ToolsModule extends GatewayModule {
  /** The exchange's tool calls as stored (analysed once per exchange; other modules reuse them). */
  records(ex: Exchange, outcome: Outcome): readonly ToolCallRecord[];
}

function describeCall(a: Analysed): string {
  const command = a.classified.commands?.[0] ?? a.classified.paths?.[0];
  return command === undefined ? `"${a.call.name}"` : `"${a.call.name}" (${command.length > 300 ? `${command.slice(0, 300)}…` : command})`;
}

/** The text an agent reads instead of the call: what was blocked, why, and that it did not run. */
function refusalText(a: Analysed): string {
  const reasons = a.findings
    .filter((f) => f.action === "block")
    .map((f) => `- ${f.ruleId} (${f.category}, ${f.severity}): ${f.message} [matched: ${f.command}]`);
  return [
    `keyless guardrails blocked the tool call ${describeCall(a)}; it was not run.`,
    ...reasons,
    "Do not retry it in another form. Continue without it, or explain what you needed so a human can decide.",
  ].join("\n");
}

function stored(f: Finding): StoredFinding {
  return { ruleId: f.ruleId, category: f.category, severity: f.severity, action: f.action, message: f.message, command: f.command };
}

/** "block" is recorded only where the call was actually replaced; a call let through is recorded as flagged. */
function taken(action: Action, blocked: boolean): Action {
  return action === "block" && !blocked ? "flag" : action;
}

/** A model can nest arguments deeper than JSON.stringify recurses: such are stored as a note (the capture has the bytes). */
function storable(args: unknown): unknown {
  return nestsDeeperThan(args) ? { _not_stored: `arguments nest deeper than ${MAX_JSON_DEPTH} levels` } : args;
}

function toRecord(c: ClassifiedToolCall, findings: readonly Finding[], id: string, args: unknown, action: Action, blocked: boolean): ToolCallRecord {
  return {
    callId: id,
    name: c.name,
    kind: c.kind,
    mcpServer: c.mcpServer ?? null,
    mcpTool: c.mcpTool ?? null,
    command: c.commands && c.commands.length > 0 ? c.commands.join("\n") : null,
    paths: c.paths ?? c.readPaths ?? null,
    args: storable(args),
    findings: findings.filter((f) => (f.callId ?? id) === id).map((f) => stored({ ...f, action: taken(f.action, blocked) })),
    action: taken(action, blocked),
    nested: (c.nested ?? []).map((n, i) => {
      const nestedId = n.callId ?? `${id}#${i}`;
      const own = findings.filter((f) => f.callId === nestedId);
      return toRecord(n, own, nestedId, n.args ?? null, strongest(own.map((f) => f.action)) ?? "log", blocked);
    }),
  };
}

/** What the module's per-exchange steps share: error reporting, the secrets module, the sessions' call history. */
interface Shared {
  readonly onError: ToolsModuleDeps["onError"];
  readonly secrets: SecretsModule | undefined;
  readonly flows: SessionFlows;
}

/** Whose calls are one stream for cross-call findings: the CI session, else the principal. */
const flowKey = (ex: Exchange) => (ex.session ? `session:${ex.session.id}` : `principal:${ex.identity.principal}`);

/** The exchange's guardrail state: the caller's actions for this model, and what was analysed and blocked so far. */
function stateOf(ex: Exchange, shared: Shared): ToolsState {
  let state = ex.state.get(TOOLS_STATE);
  if (!state) {
    // Results this request reports that carried a secret: their calls read one (before this response's calls are checked).
    for (const r of secretResults(ex)) {
      shared.flows.secretInResult(flowKey(ex), { requestId: "earlier", callId: r.callId, label: `the call whose result carried ${r.ruleId}`, ts: ex.startedAt });
    }
    const { guardrails } = ex.caller.config;
    state = {
      policy: GuardrailPolicy.for(guardrails, ex.entitlement),
      mcpServers: guardrails.mcp_servers,
      analysed: new Map(),
      blocked: new Set(),
      analysisMs: 0,
    };
    ex.state.set(TOOLS_STATE, state);
  }
  return state;
}

/** Findings an earlier call of the session and this one make together (flow.ts), with the caller's actions. */
function flowFindings(ex: Exchange, state: ToolsState, a: Omit<Analysed, "action" | "facts">, facts: CallFacts, shared: Shared): Finding[] {
  const label = describeCall({ ...a, action: "log" });
  const call = { requestId: ex.id, callId: a.classified.callId ?? a.call.id, label, ts: ex.startedAt };
  return shared.flows.check(flowKey(ex), call, facts).map((f) => ({ ...f, action: state.policy.actionFor(f) }));
}

/** Analyses a call once per exchange, within the exchange's analysis time budget. */
function analyse(ex: Exchange, state: ToolsState, call: ToolCall, shared: Shared): Analysed {
  const cached = state.analysed.get(call.id);
  if (cached) return cached;
  const started = cpuMs();
  const within = new TimeLimit(RESPONSE_ANALYSIS_MS - state.analysisMs);
  const { classified, findings, commands, error } = analyzeToolCall(call, state.policy.rules, { mcpServers: state.mcpServers, within });
  state.analysisMs += cpuMs() - started;
  if (error !== undefined) shared.onError(error, `tool call analysis (call ${call.id})`);
  const own = [
    ...findings.map((f): Finding => ({ ...f, action: state.policy.actionFor(f) })),
    // Secret findings come with their action already decided (secret rules resolve differently).
    ...(shared.secrets?.callFindings(ex, call) ?? []),
  ];
  let facts: CallFacts | undefined;
  let across: Finding[] = [];
  try {
    facts = callFacts(classified, own, commands);
    across = flowFindings(ex, state, { call, classified, findings: own }, facts, shared);
  } catch (err) {
    shared.onError(err, `cross-call analysis (call ${call.id})`);
  }
  const resolved = [...own, ...across];
  const analysed: Analysed = { call, classified, findings: resolved, action: strongest(resolved.map((f) => f.action)) ?? "log", ...(facts ? { facts } : {}) };
  state.analysed.set(call.id, analysed);
  return analysed;
}

/** The exchange's calls as stored, secrets masked; calls not blocked are remembered for the session's later calls. */
function storedRecords(ex: Exchange, state: ToolsState, toolCalls: readonly ToolCall[], shared: Shared): readonly ToolCallRecord[] {
  const analysed = toolCalls.map((call) => analyse(ex, state, call, shared));
  // Nothing stored keeps a secret the exchange carried (tool arguments, matched commands).
  const records = maskValue(
    analysed.map((a) => toRecord(a.classified, a.findings, a.classified.callId ?? a.call.id, a.call.input, a.action, state.blocked.has(a.call.id))),
    secretsToMask(ex),
  );
  // Labels come from the masked records: a later finding quoting this call carries no secret either.
  analysed.forEach((a, i) => {
    const rec = records[i];
    if (!a.facts || !rec || state.blocked.has(a.call.id)) return;
    const label = `"${rec.name}"${rec.command ? ` (${rec.command.length > 200 ? `${rec.command.slice(0, 200)}…` : rec.command})` : ""}`;
    shared.flows.record(flowKey(ex), { requestId: ex.id, callId: rec.callId, label, ts: ex.startedAt }, a.facts);
  });
  return records;
}

function verdictFor(ex: Exchange, state: ToolsState, shared: Shared): Verdict {
  return (call) => {
    let a: Analysed;
    try {
      a = analyse(ex, state, call, shared);
    } catch (err) {
      // Analysis never throws (a failure is an unknown call); a policy bug must not break the response either.
      shared.onError(err, `tool call analysis ${ex.id}`);
      return null;
    }
    if (a.action !== "block") return null;
    state.blocked.add(call.id);
    if (!ex.flags.includes(GUARDRAIL_BLOCKED)) ex.flags.push(GUARDRAIL_BLOCKED);
    return refusalText(a);
  };
}

export function createToolsModule(deps: ToolsModuleDeps): ToolsModule {
  const shared: Shared = { onError: deps.onError, secrets: deps.secrets, flows: new SessionFlows() };
  /** The format's blocker, when this caller's guardrails can block at all (else the response passes untouched). */
  const blockerFor = (ex: Exchange) => {
    const blocker = BLOCKERS[ex.format.id];
    return blocker && stateOf(ex, shared).policy.canBlock() ? blocker : undefined;
  };

  const records = (ex: Exchange, outcome: Outcome): readonly ToolCallRecord[] => {
    const state = stateOf(ex, shared);
    state.records ??= storedRecords(ex, state, outcome.toolCalls, shared);
    if (state.records.some((c) => c.action === "flag") && !ex.flags.includes(GUARDRAIL_FLAGGED)) ex.flags.push(GUARDRAIL_FLAGGED);
    return state.records;
  };

  const plugin: ExchangePlugin = {
    name: "tools",
    streamRewriter(ex) {
      const blocker = blockerFor(ex);
      return blocker?.streamRewriter(verdictFor(ex, stateOf(ex, shared), shared));
    },
    rewriteResponse(ex, body) {
      const blocker = blockerFor(ex);
      return blocker?.rewriteBody(body, verdictFor(ex, stateOf(ex, shared), shared));
    },
    after(ex, outcome): RowExtension | void {
      let calls: readonly ToolCallRecord[] = [];
      try {
        calls = records(ex, outcome);
      } catch (err) {
        deps.onError(err, `tool call analysis ${ex.id}`);
      }
      const results = maskValue(
        ex.toolResults.filter((r) => r.callId !== "" || r.name !== undefined),
        secretsToMask(ex),
      );
      if (calls.length === 0 && results.length === 0) return;
      const ctx = {
        ts: ex.startedAt,
        principal: ex.identity.principal,
        sessionId: ex.session?.id ?? null,
        clientSession: clientSession(ex.clientHeaders),
      };
      return { rows: () => ({ kind: "tool_calls", ctx, calls, results }) };
    },
  };

  return {
    name: "tools",
    plugin,
    records,
    mount(app: Hono<GatewayEnv>) {
      mountToolCallApi(app, deps.store);
    },
  };
}
