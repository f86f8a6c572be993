// The request path for provider routes: body → model → grants → provider → plugins → upstream → client,
// with the log row written after the response, never before it.
import { randomUUID } from "node:crypto";
import type { Config } from "../config/schema.js";
import type { EventRewriter, GatewayError } from "../formats/codec.js";
import type { Identity } from "../identity/types.js";
import type { AccessCache } from "../policy/access-cache.js";
import { type Access, applicableValues, modelKey } from "../policy/grants.js";
import type { Pricer } from "../pricing/prices.js";
import { addHeaderLines } from "../providers/types.js";
import { grantedKey, planRoute } from "../routing/plan.js";
import { type RouteSender, sendAlongRoute } from "../routing/send.js";
import { routedExchange, routedResponse } from "../routing/exchange.js";
import type { RequestLog } from "../store/requests.js";
import type { FramingRegistry } from "../stream/index.js";
import { BodyTooLarge, readBody } from "./body.js";
import { jsonShapeMessage, jsonShapeProblem } from "./json-shape.js";
import type { Denial, Exchange, ExchangePlugin, SessionRef } from "./exchange.js";
import { upstreamHeaders } from "./headers.js";
import { type RequestBase, recordRefusal, refuseExchange } from "./record.js";
import { respond } from "./respond.js";
import type { GatewayMetrics } from "./metrics.js";
import { type UpstreamClient, boundAfterDisconnect, outliveClient } from "./upstream.js";
import { type RouteMatch, RouteError, modelProblem } from "./routes.js";

export interface ProxyDeps {
  readonly config: Config;
  readonly pricer: Pricer;
  readonly log: RequestLog;
  readonly plugins: readonly ExchangePlugin[];
  readonly framings: FramingRegistry;
  readonly upstream: UpstreamClient;
  readonly access: AccessCache;
  readonly metrics: GatewayMetrics;
  /** Targets, keys and fallbacks (routing/). */
  readonly routing: RouteSender;
  readonly sessionFor: (identity: Identity) => SessionRef | null;
  readonly onError: (err: unknown, context: string) => void;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

export async function handleProxy(
  req: Request,
  identity: Identity,
  { route, match }: RouteMatch,
  deps: ProxyDeps,
  globMatch: (glob: string, value: string) => boolean,
  nodeBody?: AsyncIterable<Buffer>,
): Promise<Response> {
  const { config } = deps;
  const started = performance.now();
  const id = `req_${randomUUID().replaceAll("-", "")}`;
  const url = new URL(req.url);
  const codec = route.format;
  const base: RequestBase = { id, startedAt: Date.now(), started, identity, route, path: url.pathname, method: req.method, clientHeaders: req.headers };
  const refuse = (error: GatewayError, category: string, extra: { provider?: string; model?: string; body?: Uint8Array } = {}) => {
    recordRefusal(deps, base, { ...error, category }, extra);
    const res = codec.errorResponse(error);
    res.headers.set("x-keyless-request-id", id);
    return res;
  };

  let bytes: Uint8Array;
  try {
    bytes = await readBody(req, config.limits.max_body, nodeBody);
  } catch (err) {
    if (err instanceof BodyTooLarge) return refuse({ kind: "too_large", message: err.message }, "input");
    return refuse({ kind: "invalid_request", message: "could not read the request body" }, "input");
  }
  let body: unknown = null;
  if (bytes.byteLength === 0) return refuse({ kind: "invalid_request", message: "request body is empty; expected JSON" }, "input");
  const text = decoder.decode(bytes);
  try {
    body = JSON.parse(text);
  } catch (err) {
    return refuse({ kind: "invalid_request", message: `request body is not valid JSON: ${(err as Error).message}` }, "input", { body: bytes });
  }
  // The bytes are forwarded as they came: refuse what the upstream could read differently from keyless.
  const shape = jsonShapeProblem(text);
  if (shape) return refuse({ kind: "invalid_request", message: jsonShapeMessage(shape) }, "input", { body: bytes });

  const info = codec.requestInfo(body);
  let model: string | undefined;
  try {
    model = route.modelFromPath?.(match) ?? info.model;
  } catch (err) {
    if (!(err instanceof RouteError)) throw err;
    return refuse({ kind: "invalid_request", message: err.message }, "input", { body: bytes });
  }
  if (!model) return refuse({ kind: "invalid_request", message: "the request names no model" }, "input", { body: bytes });
  const problem = modelProblem(model);
  if (problem) return refuse({ kind: "invalid_request", message: problem }, "input", { body: bytes });

  const access: Access = deps.access.get(identity, config);
  if (access.role === null) {
    return refuse({ kind: "permission", message: "access denied: no role granted" }, "policy", { model, body: bytes });
  }
  const plan = planRoute(config, route, model, globMatch);
  if (!plan) {
    return refuse({ kind: "not_found", message: `model "${model}" is not served by any provider configured on this gateway` }, "policy", { model, body: bytes });
  }
  const provider = plan.targets[0]!.provider;
  const key = grantedKey(access, plan);
  if (key === null) {
    const names = plan.requested === plan.model ? modelKey(provider.name, model) : `${modelKey(provider.name, plan.requested)} or ${modelKey(provider.name, plan.model)}`;
    return refuse(
      { kind: "not_found", message: `model "${model}" is not available to ${identity.principal}: no grant allows ${names}` },
      "policy",
      { provider: provider.name, model, body: bytes },
    );
  }
  if (!plan.targets.some((t) => t.provider.adapter.configured(t.provider.config))) {
    // A missing key will not appear by retrying: tell the SDKs not to.
    return refuse(
      { kind: "unavailable", message: `provider "${provider.name}" has no credentials configured on the gateway`, headers: { "x-should-retry": "false" } },
      "config",
      { provider: provider.name, model, body: bytes },
    );
  }

  const ex: Exchange = {
    id,
    startedAt: base.startedAt,
    identity,
    session: deps.sessionFor(identity),
    access,
    route,
    format: codec,
    provider,
    model: plan.targets[0]!.model,
    modelKey: key,
    info,
    stream: route.streamFromPath?.(match) ?? info.stream,
    clientHeaders: req.headers,
    body,
    toolResults: safe(() => codec.toolResults(body), []),
    flags: [],
    state: new Map(),
  };

  for (const plugin of deps.plugins) {
    let denial: Denial | void;
    try {
      denial = await plugin.before?.(ex);
    } catch (err) {
      deps.onError(err, `plugin ${plugin.name}`);
      denial = { kind: "internal", message: `request check "${plugin.name}" failed; refusing to forward`, category: plugin.name };
    }
    if (denial) return refuseExchange(ex, base, denial, bytes, deps);
  }

  const rewriters: EventRewriter[] = [];
  const adjusted = codec.adjustRequest?.(ex.body);
  if (adjusted) {
    ex.body = adjusted.body;
    rewriters.push(adjusted.rewriter);
  }
  const outBytes = ex.body === body ? bytes : encoder.encode(JSON.stringify(ex.body));
  for (const plugin of deps.plugins) {
    const rewriter = plugin.streamRewriter?.(ex);
    if (rewriter) rewriters.push(rewriter);
  }

  const headers = upstreamHeaders(req.headers);
  for (const { value } of applicableValues(access, key)) if (value.add_headers) addHeaderLines(headers, value.add_headers);
  const query = new URLSearchParams();
  for (const name of route.query) {
    const v = url.searchParams.get(name);
    if (v !== null) query.set(name, v);
  }
  // A client that leaves does not stop the provider's bill: the call goes on, bounded, so its usage can be charged.
  const signal = outliveClient(req.signal, config.quota_estimate.read_after_disconnect);
  const call = { route, match, method: req.method, headers, query, bytes: outBytes, body: ex.body, stream: ex.stream };
  const routed = await sendAlongRoute(plan, call, deps.routing, config.routing, signal);
  const answered = routedExchange(ex, plan, routed);
  if (!routed.ok) {
    return refuseExchange(answered, base, { kind: routed.kind, message: routed.message, category: "upstream", unsent: routed.unsent, ...(routed.headers ? { headers: routed.headers } : {}) }, routed.bytes, deps);
  }
  let upstream = routedResponse(routed);
  if (!ex.stream) upstream = { ...upstream, body: boundAfterDisconnect(upstream.body, req.signal, config.limits.max_body) };
  return respond({ deps, base, ex: answered, req, upstream, rewriters, requestBytes: routed.bytes, headersAt: performance.now() - started });
}


function safe<T>(fn: () => T, fallback: T): T {
  try {
    return fn();
  } catch {
    return fallback;
  }
}
