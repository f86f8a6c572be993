// Hook payloads, shaped after Aperture's HookCallData: `metadata` about who asked for what, plus the event's data.
// Built only from the exchange and its outcome: provider keys and client credentials live in headers, never here.
import type { Exchange, Outcome } from "../proxy/exchange.js";
import { clientSession } from "../proxy/record.js";
import type { ToolCallRecord } from "../store/tool-calls.js";
import type { HookEvent } from "../config/hooks.js";
import { requestUrl } from "./aperture-payload.js";

export function hookMetadata(ex: Exchange, tailnetName: string | null) {
  const { identity } = ex;
  const client = clientSession(ex.clientHeaders);
  return {
    request_id: ex.id,
    url: requestUrl(ex),
    tailnet_name: tailnetName,
    timestamp: new Date(ex.startedAt).toISOString(),
    principal: identity.principal,
    login_name: identity.login,
    stable_node_id: identity.nodeId,
    node_name: identity.nodeName,
    tags: identity.tags,
    user_agent: ex.clientHeaders.get("user-agent"),
    route: ex.route.id,
    provider: ex.provider.name,
    model: ex.model,
    session_id: ex.session?.id ?? client,
    client_session: client,
    ci_session: ex.session
      ? { id: ex.session.id, repository: ex.session.repository, pr_number: ex.session.prNumber, workflow: ex.session.workflow, run_id: ex.session.runId }
      : null,
  };
}

function toolCallPayload(record: ToolCallRecord): Record<string, unknown> {
  return {
    id: record.callId,
    name: record.name,
    kind: record.kind,
    params: record.args,
    mcp_server: record.mcpServer,
    mcp_tool: record.mcpTool,
    command: record.command,
    paths: record.paths,
    findings: record.findings,
    action: record.action,
    ...(record.nested.length > 0 ? { nested: record.nested.map(toolCallPayload) } : {}),
  };
}

/** The payload of an asynchronous event (entire_request, tool_call). */
export function asyncPayload(event: HookEvent, ex: Exchange, outcome: Outcome, toolCalls: readonly ToolCallRecord[], tailnetName: string | null) {
  const usage = outcome.summary.usage;
  return {
    event,
    metadata: {
      ...hookMetadata(ex, tailnetName),
      estimated_cost:
        outcome.costNanos === null
          ? null
          : {
              dollars: outcome.costNanos / 1e9,
              nanodollars: outcome.costNanos,
              cost_basis: `${ex.provider.name}/${ex.model}`,
              usage: usage && {
                input_tokens: usage.input,
                output_tokens: usage.output,
                cached_tokens: usage.cacheRead,
                cache_creation_input_tokens: usage.cacheWrite,
                reasoning_tokens: usage.reasoning,
              },
            },
    },
    status: outcome.status,
    duration_ms: Math.round(outcome.durationMs),
    stop_reason: outcome.summary.stopReason ?? null,
    error: outcome.error ?? null,
    denial: outcome.denial ? { category: outcome.denial.category, message: outcome.denial.message } : null,
    flags: [...ex.flags],
    tool_calls: toolCalls.map(toolCallPayload),
    findings: toolCalls.flatMap((c) => [c, ...c.nested]).flatMap((c) => c.findings.map((f) => ({ ...f, call_id: c.callId }))),
  };
}

/** The payload of the synchronous pre_request event: the body the client sent, which the hook may replace. */
export function preRequestPayload(ex: Exchange, tailnetName: string | null) {
  return { event: "pre_request" as const, metadata: hookMetadata(ex, tailnetName), request_body: ex.body };
}
