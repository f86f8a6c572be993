// The request path for provider routes: body → model → entitlement → provider → plugins → upstream → client,
// with the log row written after the response, never before it. Each step is its own function; a step that refuses
// returns the provider-shaped error response.
import { randomUUID } from "node:crypto";
import type { Caller } from "../access/caller.js";
import type { Config } from "../config/schema.js";
import type { EventRewriter, GatewayError, RequestInfo } from "../formats/codec.js";
import { BodyTooLarge, readBody } from "../http/read-body.js";
import { addHeaderLines } from "../providers/types.js";
import { routedExchange, routedResponse } from "./routed.js";
import { type RoutePlan, planRoute } from "./route-plan.js";
import { type ClientCall, sendAlongRoute } from "./fallback.js";
import type { Entitlement } from "../access/caller.js";
import type { ProxyDeps } from "./deps.js";
import { type Denial, type Exchange, ExchangeState, type ResolvedProvider } from "./exchange.js";
import { clientCredentials, upstreamHeaders } from "./headers.js";
import { jsonShapeMessage, jsonShapeProblem } from "./json-shape.js";
import { type RequestBase, recordRefusal, refuseExchange } from "./record.js";
import { respond } from "./respond.js";
import { type RouteMatch, RouteError, modelProblem } from "./routes.js";
import { boundAfterDisconnect, outliveClient } from "./upstream.js";

const decoder = new TextDecoder();
const encoder = new TextEncoder();

type Refuse = (error: GatewayError, category: string, extra?: { provider?: string; model?: string; body?: Uint8Array }) => Response;
type Step<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly response: Response };
const refused = (response: Response): Step<never> => ({ ok: false, response });

interface ParsedRequest {
  readonly bytes: Uint8Array;
  readonly body: unknown;
  readonly info: RequestInfo;
  readonly model: string;
}

/** Reads and checks the body, and finds the model it (or the path) names. */
async function parseRequest(req: Request, base: RequestBase, config: Config, refuse: Refuse, nodeBody?: AsyncIterable<Buffer>): Promise<Step<ParsedRequest>> {
  let bytes: Uint8Array;
  try {
    bytes = await readBody(req, config.limits.max_body, nodeBody);
  } catch (err) {
    if (err instanceof BodyTooLarge) return refused(refuse({ kind: "too_large", message: err.message }, "input"));
    return refused(refuse({ kind: "invalid_request", message: "could not read the request body" }, "input"));
  }
  if (bytes.byteLength === 0) return refused(refuse({ kind: "invalid_request", message: "request body is empty; expected JSON" }, "input"));
  const text = decoder.decode(bytes);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    return refused(refuse({ kind: "invalid_request", message: `request body is not valid JSON: ${(err as Error).message}` }, "input", { body: bytes }));
  }
  // The bytes are forwarded as they came: refuse what the upstream could read differently from keyless.
  const shape = jsonShapeProblem(text);
  if (shape) return refused(refuse({ kind: "invalid_request", message: jsonShapeMessage(shape) }, "input", { body: bytes }));

  const info = base.route.format.requestInfo(body);
  let model: string | undefined;
  try {
    model = base.route.modelFromPath?.(base.match) ?? info.model;
  } catch (err) {
    if (!(err instanceof RouteError)) throw err;
    return refused(refuse({ kind: "invalid_request", message: err.message }, "input", { body: bytes }));
  }
  if (!model) return refused(refuse({ kind: "invalid_request", message: "the request names no model" }, "input", { body: bytes }));
  const problem = modelProblem(model);
  if (problem) return refused(refuse({ kind: "invalid_request", message: problem }, "input", { body: bytes }));
  return { ok: true, value: { bytes, body, info, model } };
}

interface Authorized {
  readonly plan: RoutePlan;
  readonly entitlement: Entitlement;
}

/**
 * The caller's role, the targets serving the model (its alias resolved, its route's fallbacks), the caller's grant for
 * it (the alias or the model it resolves to, at the first target's provider), and credentials for some target.
 */
function authorize(caller: Caller, base: RequestBase, { model, bytes }: ParsedRequest, refuse: Refuse): Step<Authorized> {
  if (caller.role === null) return refused(refuse({ kind: "permission", message: "access denied: no role granted" }, "policy", { model, body: bytes }));
  const plan = planRoute(caller.config, base.route, model);
  if (!plan) {
    return refused(refuse({ kind: "not_found", message: `model "${model}" is not served by any provider configured on this gateway` }, "policy", { model, body: bytes }));
  }
  const provider = plan.targets[0]!.provider;
  const names = plan.requested === plan.model ? [plan.model] : [plan.requested, plan.model];
  const entitlements = names.map((n) => caller.entitlement(provider.name, n));
  const entitlement = entitlements.find((e) => e.allowed);
  const where = { provider: provider.name, model, body: bytes };
  if (!entitlement) {
    const message = `model "${model}" is not available to ${caller.identity.principal}: no grant allows ${entitlements.map((e) => e.modelKey).join(" or ")}`;
    return refused(refuse({ kind: "not_found", message }, "policy", where));
  }
  if (!plan.targets.some((t) => t.provider.adapter.configured(t.provider.config))) {
    // A missing key will not appear by retrying: tell the SDKs not to.
    const message = `provider "${provider.name}" has no credentials configured on the gateway`;
    return refused(refuse({ kind: "unavailable", message, headers: { "x-should-retry": "false" } }, "config", where));
  }
  return { ok: true, value: { plan, entitlement } };
}

/** Passthrough: the caller's own credential pays for the call; it is forwarded, scrubbed, and never logged. */
function passthroughCredentials(provider: ResolvedProvider, headers: Headers): ReturnType<typeof clientCredentials> {
  return "auth_mode" in provider.config && provider.config.auth_mode === "passthrough" ? clientCredentials(headers) : [];
}

function exchangeFor(caller: Caller, base: RequestBase, parsed: ParsedRequest, { plan, entitlement }: Authorized, deps: ProxyDeps): Exchange {
  const { route, match } = base;
  const { provider, model } = plan.targets[0]!;
  const passthrough = passthroughCredentials(provider, base.clientHeaders);
  return {
    id: base.id,
    startedAt: base.startedAt,
    identity: caller.identity,
    caller,
    entitlement,
    session: deps.sessionFor(caller.identity),
    route,
    format: route.format,
    provider,
    model,
    modelKey: entitlement.modelKey,
    info: parsed.info,
    stream: route.streamFromPath?.(match) ?? parsed.info.stream,
    clientHeaders: base.clientHeaders,
    path: base.path,
    body: parsed.body,
    toolResults: safe(() => route.format.toolResults(parsed.body), []),
    flags: passthrough.length > 0 ? ["client_credentials"] : [],
    state: new ExchangeState(),
    clientSecrets: passthrough.map((c) => c.secret),
  };
}

/** Each plugin's before-step, in pipeline order; the first refusal stops the request. */
async function runBefore(ex: Exchange, deps: ProxyDeps): Promise<Denial | undefined> {
  for (const plugin of deps.plugins) {
    let denial: Denial | void;
    try {
      denial = await plugin.before?.(ex);
    } catch (err) {
      deps.onError(err, `plugin ${plugin.name}`);
      denial = { kind: "internal", message: `request check "${plugin.name}" failed; refusing to forward`, category: plugin.name };
    }
    if (denial) return denial;
  }
  return undefined;
}

/** The body as plugins left it, and the stream rewriters the format and the plugins ask for. */
function outgoing(ex: Exchange, parsed: ParsedRequest, deps: ProxyDeps): { bytes: Uint8Array; rewriters: EventRewriter[] } {
  const rewriters: EventRewriter[] = [];
  const adjusted = ex.format.adjustRequest?.(ex.body);
  if (adjusted) {
    ex.body = adjusted.body;
    rewriters.push(adjusted.rewriter);
  }
  const bytes = ex.body === parsed.body ? parsed.bytes : encoder.encode(JSON.stringify(ex.body));
  for (const plugin of deps.plugins) {
    const rewriter = plugin.streamRewriter?.(ex);
    if (rewriter) rewriters.push(rewriter);
  }
  return { bytes, rewriters };
}

/** The call as the client's route shapes it: client headers minus credentials, grant headers, allowed query parameters. */
function clientCall(req: Request, base: RequestBase, ex: Exchange, body: Uint8Array): ClientCall {
  const headers = upstreamHeaders(req.headers);
  addHeaderLines(headers, ex.entitlement.addHeaders);
  const url = new URL(req.url);
  const query = new URLSearchParams();
  for (const name of base.route.query) {
    const v = url.searchParams.get(name);
    if (v !== null) query.set(name, v);
  }
  return { route: base.route, match: base.match, method: req.method, headers, query, bytes: body, body: ex.body, stream: ex.stream, clientCredentials: passthroughCredentials(ex.provider, req.headers) };
}

/** The log cannot take another row (its queue is full, or its writer is down): serving unlogged is not an option. */
function unlogged(match: RouteMatch, deps: ProxyDeps): Response {
  deps.metrics.refusedUnlogged();
  const message = deps.log.writerUp ? "the request log is behind (its queue is full); retry shortly" : "the request log's writer is down; retry shortly";
  return match.route.format.errorResponse({ kind: "unavailable", message, headers: { "retry-after": "1" } });
}

export async function handleProxy(req: Request, caller: Caller, match: RouteMatch, deps: ProxyDeps, nodeBody?: AsyncIterable<Buffer>): Promise<Response> {
  if (!deps.log.accepting) return unlogged(match, deps);
  const started = performance.now();
  const id = `req_${randomUUID().replaceAll("-", "")}`;
  const base: RequestBase = {
    id,
    startedAt: Date.now(),
    started,
    identity: caller.identity,
    route: match.route,
    match: match.match,
    path: new URL(req.url).pathname,
    method: req.method,
    clientHeaders: req.headers,
  };
  const refuse: Refuse = (error, category, extra = {}) => {
    recordRefusal(deps, base, { ...error, category }, extra);
    const res = match.route.format.errorResponse(error);
    res.headers.set("x-keyless-request-id", id);
    return res;
  };

  const parsed = await parseRequest(req, base, deps.config, refuse, nodeBody);
  if (!parsed.ok) return parsed.response;
  const provider = authorize(caller, base, parsed.value, refuse);
  if (!provider.ok) return provider.response;
  const ex = exchangeFor(caller, base, parsed.value, provider.value, deps);
  const denial = await runBefore(ex, deps);
  if (denial) return refuseExchange(ex, base, denial, parsed.value.bytes, deps);
  const out = outgoing(ex, parsed.value, deps);

  // A client that leaves does not stop the provider's bill: the call goes on, bounded, so its usage can be charged.
  const signal = outliveClient(req.signal, deps.config.quota_estimate.read_after_disconnect);
  const routed = await sendAlongRoute(provider.value.plan, clientCall(req, base, ex, out.bytes), deps.routing, deps.config.routing, signal);
  const answered = routedExchange(ex, provider.value.plan, routed);
  if (!routed.ok) {
    const denial: Denial = { kind: routed.kind, message: routed.message, category: "upstream", unsent: routed.unsent, ...(routed.headers ? { headers: routed.headers } : {}) };
    return refuseExchange(answered, base, denial, routed.bytes, deps);
  }
  let upstream = routedResponse(routed);
  if (!ex.stream) upstream = { ...upstream, body: boundAfterDisconnect(upstream.body, req.signal, deps.config.limits.max_body) };
  return respond({ deps, base, ex: answered, req, upstream, rewriters: out.rewriters, requestBytes: routed.bytes, headersAt: performance.now() - started });
}

function safe<T>(fn: () => T, fallback: T): T {
  try {
    return fn();
  } catch {
    return fallback;
  }
}
