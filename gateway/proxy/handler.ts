// The request path for provider routes: body → model → entitlement → provider → plugins → upstream → client,
// with the log row written after the response, never before it. Each step is its own function; a step that refuses
// returns the provider-shaped error response.
import { randomUUID } from "node:crypto";
import type { Caller } from "../access/caller.js";
import type { Config } from "../config/schema.js";
import { globMatch } from "../config/glob.js";
import type { EventRewriter, GatewayError, RequestInfo } from "../formats/codec.js";
import { BodyTooLarge, readBody } from "../http/read-body.js";
import { adapterFor } from "../providers/registry.js";
import { ProviderAuthError, type UpstreamRequest, addHeaderLines } from "../providers/types.js";
import type { ProxyDeps } from "./deps.js";
import { type Denial, type Exchange, ExchangeState, type ResolvedProvider } from "./exchange.js";
import { clientCredentials, upstreamHeaders } from "./headers.js";
import { jsonShapeMessage, jsonShapeProblem } from "./json-shape.js";
import { type RequestBase, recordRefusal, refuseExchange } from "./record.js";
import { respond } from "./respond.js";
import { type RouteMatch, RouteError, modelProblem } from "./routes.js";
import { type UpstreamClient, type UpstreamResponse, boundAfterDisconnect, describeUpstreamError, neverSent, outliveClient } from "./upstream.js";

const decoder = new TextDecoder();
const encoder = new TextEncoder();

export function selectProvider(config: Config, types: readonly string[], model: string): ResolvedProvider | null {
  for (const [name, provider] of Object.entries(config.providers)) {
    if (!types.includes(provider.type)) continue;
    if (provider.models.some((glob) => globMatch(glob, model))) return { name, config: provider, adapter: adapterFor(provider) };
  }
  return null;
}

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

/** The caller's role, the provider serving the model, the caller's grant for it, and the provider's credentials. */
function authorize(caller: Caller, base: RequestBase, { model, bytes }: ParsedRequest, refuse: Refuse): Step<ResolvedProvider> {
  if (caller.role === null) return refused(refuse({ kind: "permission", message: "access denied: no role granted" }, "policy", { model, body: bytes }));
  const provider = selectProvider(caller.config, base.route.providerTypes, model);
  if (!provider) {
    return refused(refuse({ kind: "not_found", message: `model "${model}" is not served by any provider configured on this gateway` }, "policy", { model, body: bytes }));
  }
  const entitlement = caller.entitlement(provider.name, model);
  const where = { provider: provider.name, model, body: bytes };
  if (!entitlement.allowed) {
    const message = `model "${model}" is not available to ${caller.identity.principal}: no grant allows ${entitlement.modelKey}`;
    return refused(refuse({ kind: "not_found", message }, "policy", where));
  }
  if (!provider.adapter.configured(provider.config)) {
    // A missing key will not appear by retrying: tell the SDKs not to.
    const message = `provider "${provider.name}" has no credentials configured on the gateway`;
    return refused(refuse({ kind: "unavailable", message, headers: { "x-should-retry": "false" } }, "config", where));
  }
  return { ok: true, value: provider };
}

/** Passthrough: the caller's own credential pays for the call; it is forwarded, scrubbed, and never logged. */
function passthroughCredentials(provider: ResolvedProvider, headers: Headers): ReturnType<typeof clientCredentials> {
  return "auth_mode" in provider.config && provider.config.auth_mode === "passthrough" ? clientCredentials(headers) : [];
}

function exchangeFor(caller: Caller, base: RequestBase, parsed: ParsedRequest, provider: ResolvedProvider, deps: ProxyDeps): Exchange {
  const { route, match } = base;
  const entitlement = caller.entitlement(provider.name, parsed.model);
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
    model: parsed.model,
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

/** Builds the upstream request: validated path, allowed query parameters, client headers minus credentials, grant headers. */
async function upstreamRequest(req: Request, base: RequestBase, ex: Exchange, body: Uint8Array): Promise<UpstreamRequest> {
  const headers = upstreamHeaders(req.headers);
  addHeaderLines(headers, ex.entitlement.addHeaders);
  const url = new URL(req.url);
  const query = new URLSearchParams();
  for (const name of base.route.query) {
    const v = url.searchParams.get(name);
    if (v !== null) query.set(name, v);
  }
  const clientCredentials = passthroughCredentials(ex.provider, req.headers);
  return ex.provider.adapter.prepare({ path: base.route.upstreamPath(base.match, ex.model), query, method: req.method, headers, body, model: ex.model, clientCredentials }, ex.provider.config);
}

/** Sends the request; a client that leaves does not stop the provider's bill, so the call goes on, bounded. */
async function send(client: UpstreamClient, upstreamReq: UpstreamRequest, req: Request, ex: Exchange, config: Config): Promise<UpstreamResponse | Denial> {
  let upstream: UpstreamResponse;
  try {
    upstream = await client.send(upstreamReq, outliveClient(req.signal, config.quota_estimate.read_after_disconnect));
  } catch (err) {
    const reason = describeUpstreamError(err);
    const kind = /timeout/i.test(reason) ? "timeout" : "upstream";
    return { kind, message: `upstream ${ex.provider.name} failed: ${reason}`, category: "upstream", unsent: neverSent(err) };
  }
  // An answer dropped unread (its client gone before it came) errors with no reader listening: never fatal.
  upstream.body.on("error", () => undefined);
  if (!ex.stream) upstream = { ...upstream, body: boundAfterDisconnect(upstream.body, req.signal, config.limits.max_body) };
  return upstream;
}

export async function handleProxy(req: Request, caller: Caller, match: RouteMatch, deps: ProxyDeps, nodeBody?: AsyncIterable<Buffer>): Promise<Response> {
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

  let prepared: UpstreamRequest;
  try {
    prepared = await upstreamRequest(req, base, ex, out.bytes);
  } catch (err) {
    if (!(err instanceof ProviderAuthError)) throw err;
    return refuseExchange(ex, base, { kind: "unavailable", message: `provider "${ex.provider.name}": ${err.message}`, category: "upstream", unsent: true }, out.bytes, deps);
  }
  const upstream = await send(deps.upstream, prepared, req, ex, deps.config);
  if ("category" in upstream) return refuseExchange(ex, base, upstream, out.bytes, deps);
  return respond({ deps, base, ex, req, upstream, rewriters: out.rewriters, requestBytes: out.bytes, headersAt: performance.now() - started });
}

function safe<T>(fn: () => T, fallback: T): T {
  try {
    return fn();
  } catch {
    return fallback;
  }
}
