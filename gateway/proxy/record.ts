// Turns a finished (or refused) request into its log row, its cost and its metrics. Runs after the response.
import { ERROR_STATUS } from "../formats/codec.js";
import type { ResponseSummary, Usage } from "../formats/types.js";
import { ZERO_USAGE } from "../formats/types.js";
import type { Identity } from "../identity/types.js";
import type { Capture, RequestRow, RowExtension } from "../store/requests.js";
import type { Denial, Exchange, Outcome } from "./exchange.js";
import type { ProxyDeps } from "./deps.js";
import { redactedHeaders } from "./headers.js";
import type { RouteDef } from "./routes.js";

/** What is known about a request from the moment it arrives. */
export interface RequestBase {
  readonly id: string;
  readonly startedAt: number;
  /** performance.now() at arrival. */
  readonly started: number;
  readonly identity: Identity;
  readonly route: RouteDef;
  /** The route's path match (model and mode segments). */
  readonly match: RegExpExecArray;
  readonly path: string;
  readonly method: string;
  readonly clientHeaders: Headers;
}

export interface Completion {
  readonly status: number;
  readonly durationMs: number;
  readonly firstByteMs: number | null;
  readonly summary: ResponseSummary;
  readonly streamed: boolean;
  readonly error?: string;
  readonly capture: Capture;
}

function baseRow(deps: ProxyDeps, base: RequestBase, ex: Exchange | null): Omit<RequestRow, "status" | "duration_ms" | "ttfb_ms" | "streamed" | "input_tokens" | "cache_read_tokens" | "cache_write_tokens" | "output_tokens" | "reasoning_tokens" | "cost_nanos" | "tool_calls" | "denial" | "error" | "flags" | "provider" | "model"> {
  const { identity } = base;
  return {
    id: base.id,
    ts: base.startedAt,
    principal: identity.principal,
    login: identity.login,
    node_id: identity.nodeId,
    node_name: identity.nodeName,
    tags: identity.tags,
    // Refusals before an exchange exists still count against the caller's CI session.
    session_id: (ex ? ex.session : deps.sessionFor(identity))?.id ?? null,
    client_session: clientSession(base.clientHeaders),
    user_agent: base.clientHeaders.get("user-agent"),
    route: base.route.id,
    method: base.method,
    path: base.path,
  };
}

/** The agent's own session id, where the agent sends one (Claude Code, Codex). */
export function clientSession(headers: Headers): string | null {
  return headers.get("x-claude-code-session-id") ?? headers.get("session-id") ?? null;
}

export function costOf(deps: ProxyDeps, ex: Exchange, status: number, usage: Usage | null): number | null {
  if (!ex.route.billable) return 0;
  if (usage === null) return status >= 400 ? 0 : null;
  return deps.pricer.cost({ provider: ex.provider.name, priceProvider: ex.provider.adapter.priceProvider, model: ex.model }, usage);
}

/** The after-steps, in reverse pipeline order: the feature whose before-step ran first sees everything the others did. */
function runAfter(deps: ProxyDeps, ex: Exchange, outcome: Outcome): RowExtension[] {
  const extensions: RowExtension[] = [];
  for (const plugin of [...deps.plugins].reverse()) {
    try {
      const ext = plugin.after?.(ex, outcome);
      if (ext) extensions.push(ext);
    } catch (err) {
      deps.onError(err, `plugin ${plugin.name} after`);
    }
  }
  return extensions;
}

export function recordExchange(deps: ProxyDeps, base: RequestBase, ex: Exchange, done: Completion): void {
  const usage = done.summary.usage;
  const costNanos = costOf(deps, ex, done.status, usage);
  if (costNanos === null && done.status < 400) ex.flags.push(usage === null ? "usage_missing" : "price_unknown");
  const outcome: Outcome = {
    status: done.status,
    durationMs: done.durationMs,
    firstByteMs: done.firstByteMs,
    summary: done.summary,
    costNanos,
    toolCalls: done.summary.toolCalls,
    ...(done.error ? { error: done.error } : {}),
    ...(done.capture.responseBody ? { response: { body: done.capture.responseBody, truncated: done.capture.responseTruncated, contentType: done.capture.responseHeaders["content-type"] ?? null } } : {}),
  };
  const extensions = runAfter(deps, ex, outcome);
  const u = usage ?? ZERO_USAGE;
  const row: RequestRow = {
    ...baseRow(deps, base, ex),
    provider: ex.provider.name,
    model: ex.model,
    status: done.status,
    duration_ms: done.durationMs,
    ttfb_ms: done.firstByteMs,
    streamed: done.streamed,
    input_tokens: u.input,
    cache_read_tokens: u.cacheRead,
    cache_write_tokens: u.cacheWrite,
    output_tokens: u.output,
    reasoning_tokens: u.reasoning,
    cost_nanos: costNanos,
    tool_calls: done.summary.toolCalls.length,
    denial: null,
    error: done.error ?? null,
    flags: [...ex.flags],
  };
  deps.log.record(row, done.capture, extensions);
  const served = done.status >= 200 && done.status < 300;
  const knownModel = modelIsKnown(deps, ex.provider.name, ex.model, served ? ex.provider.adapter.priceProvider : null);
  deps.metrics.observe(row, knownModel);
  // Without telemetry the optional call skips its argument: nothing is built.
  deps.tracer?.ended({
    row,
    started: base.started,
    clientHeaders: base.clientHeaders,
    requestedModel: ex.info.model ?? ex.model,
    providerType: ex.provider.config.type,
    summary: done.summary,
    session: ex.session,
    knownModel,
  });
}

export function recordRefusal(
  deps: ProxyDeps,
  base: RequestBase,
  denial: Denial,
  extra: { provider?: string; model?: string; body?: Uint8Array; exchange?: Exchange },
): void {
  const durationMs = performance.now() - base.started;
  const ex = extra.exchange ?? null;
  const extensions = ex
    ? runAfter(deps, ex, {
        status: denial.status ?? ERROR_STATUS[denial.kind],
        durationMs,
        firstByteMs: null,
        summary: { usage: null, toolCalls: [] },
        costNanos: 0,
        toolCalls: [],
        denial,
      })
    : [];
  const status = denial.status ?? ERROR_STATUS[denial.kind];
  const limit = deps.config.database.capture_limit;
  const row: RequestRow = {
    ...baseRow(deps, base, ex),
    provider: extra.provider ?? null,
    model: extra.model ?? null,
    status,
    duration_ms: durationMs,
    ttfb_ms: null,
    streamed: false,
    input_tokens: 0,
    cache_read_tokens: 0,
    cache_write_tokens: 0,
    output_tokens: 0,
    reasoning_tokens: 0,
    cost_nanos: 0,
    tool_calls: 0,
    denial: denial.category === "upstream" ? null : `${denial.category}: ${denial.message}`,
    error: denial.message,
    flags: ex ? [...ex.flags] : [],
  };
  const capture: Capture = {
    requestHeaders: redactedHeaders(base.clientHeaders),
    requestBody: extra.body ? extra.body.subarray(0, limit) : null,
    requestTruncated: (extra.body?.byteLength ?? 0) > limit,
    responseHeaders: {},
    responseBody: null,
    responseTruncated: false,
  };
  deps.log.record(row, capture, extensions);
  const knownModel = modelIsKnown(deps, row.provider, row.model, null);
  deps.metrics.observe(row, knownModel);
  deps.tracer?.ended({
    row,
    started: base.started,
    clientHeaders: base.clientHeaders,
    requestedModel: row.model,
    providerType: ex?.provider.config.type ?? (row.provider ? (deps.config.providers[row.provider]?.type ?? null) : null),
    summary: null,
    session: ex ? ex.session : deps.sessionFor(base.identity),
    knownModel,
  });
}

/**
 * Whether a model may be a metric label: named literally in its provider's config, or served with a price the table
 * knows (`priceProvider` is given for served requests only). Glob matches alone are not enough: "claude-*" matches
 * endless names a caller can make up.
 */
function modelIsKnown(deps: ProxyDeps, provider: string | null, model: string | null, priceProvider: string | null): boolean {
  if (!provider || !model) return false;
  if (deps.config.providers[provider]?.models.includes(model)) return true;
  return priceProvider !== null && deps.pricer.known({ provider, priceProvider, model });
}

/** Records a refusal of an admitted exchange and answers it in the format's own error shape. */
export function refuseExchange(ex: Exchange, base: RequestBase, denial: Denial, body: Uint8Array, deps: ProxyDeps): Response {
  recordRefusal(deps, base, denial, { provider: ex.provider.name, model: ex.model, body, exchange: ex });
  const res = ex.format.errorResponse(denial);
  res.headers.set("x-keyless-request-id", ex.id);
  return res;
}
