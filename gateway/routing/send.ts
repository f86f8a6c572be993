// The upstream send path with fallbacks: targets in order, and within a target its keys (the weighted pick first).
// A key answered 429 or 401 rests (for the provider's retry-after, or the configured cooldown) and the next key is
// tried; a connection error, 408, 5xx or 529, or a stream whose first event is an error, moves on to the next
// target. All of this happens before the client has seen a byte: once a response is handed back it is never retried,
// so a stream that fails half-way ends with the provider's own error event. The last possible attempt's answer is
// handed back as the provider sent it, so the client sees the provider's own error.
import type { Readable } from "node:stream";
import type { ProviderConfig } from "../config/providers.js";
import type { RoutingConfig } from "../config/routing.js";
import type { GatewayErrorKind } from "../formats/codec.js";
import { ProviderAuthError, type UpstreamRequest } from "../providers/types.js";
import type { RouteDef } from "../proxy/routes.js";
import { scrubberFor } from "../proxy/scrub.js";
import { type UpstreamResponse, describeUpstreamError, neverSent } from "../proxy/upstream.js";
import { DEFAULT_FRAMINGS, framingFor } from "../stream/index.js";
import { requestedRestMs } from "./cooldown.js";
import { type KeyPool, type PoolKey, keysOf, withKey } from "./keys.js";
import type { RoutePlan, Target } from "./plan.js";

export interface Attempt {
  readonly provider: string;
  readonly model: string;
  /** The key's config name; null when no key was chosen (a skipped target). */
  readonly key: string | null;
  /** "answered": handed to the client; "failed": tried, fell over; "skipped": never tried. */
  readonly outcome: "answered" | "failed" | "skipped";
  readonly status: number | null;
  readonly reason: string | null;
  readonly duration_ms: number;
}

/** The client's call as the route shaped it, before any target is chosen. */
export interface ClientCall {
  readonly route: RouteDef;
  readonly match: RegExpExecArray;
  readonly method: string;
  /** Client headers cleaned for upstream (credentials dropped, grant headers added). */
  readonly headers: Headers;
  readonly query: URLSearchParams;
  /** What is sent to a target that speaks the client's API. */
  readonly bytes: Uint8Array;
  /** The parsed body, for translated targets. */
  readonly body: unknown;
  readonly stream: boolean;
}

export interface RouteSender {
  readonly pool: KeyPool;
  send(request: UpstreamRequest, signal: AbortSignal): Promise<UpstreamResponse>;
}

export type RouteResult =
  | { readonly ok: true; readonly target: Target; readonly key: PoolKey; readonly upstream: UpstreamResponse; readonly bytes: Uint8Array; readonly attempts: readonly Attempt[] }
  | {
      readonly ok: false;
      readonly kind: GatewayErrorKind;
      readonly message: string;
      /** True when no attempt can have reached a provider (nothing can have been billed). */
      readonly unsent: boolean;
      readonly headers?: Readonly<Record<string, string>>;
      readonly bytes: Uint8Array;
      readonly attempts: readonly Attempt[];
    };

const encoder = new TextEncoder();
/** Longest error body read to say why a target failed. */
const REASON_BYTES = 8 * 1024;
const REASON_WAIT_MS = 2000;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function prepareFor(call: ClientCall, target: Target, config: ProviderConfig): Promise<UpstreamRequest> | UpstreamRequest | { skip: string } {
  const { translation } = target;
  if (!translation) {
    // A body that names another model (an alias, a per-target id) is sent naming the target's; else byte for byte.
    const renamed = !call.route.modelFromPath && isRecord(call.body) && call.body.model !== target.model;
    const body = renamed ? encoder.encode(JSON.stringify({ ...(call.body as Record<string, unknown>), model: target.model })) : call.bytes;
    return target.provider.adapter.prepare(
      { path: call.route.upstreamPath(call.match, target.model), query: call.query, method: call.method, headers: new Headers(call.headers), body, model: target.model },
      config,
    );
  }
  if (!isRecord(call.body)) return { skip: "the request body is not an object to translate" };
  const headers = new Headers(call.headers);
  const body = encoder.encode(JSON.stringify(translation.body(call.body, headers)));
  return target.provider.adapter.prepare({ path: translation.path(target.model, call.stream), query: new URLSearchParams(), method: call.method, headers, body, model: target.model }, config);
}

/** Statuses after which another target may well answer: timeouts, rate limits, server errors, Anthropic's 529. */
const fallsOver = (status: number) => status === 408 || status === 429 || status >= 500;
/** Statuses that say something about the key rather than the provider. */
const keyRefused = (status: number) => status === 429 || status === 401;

async function readReason(body: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  const timer = setTimeout(() => body.destroy(), REASON_WAIT_MS);
  try {
    for await (const chunk of body) {
      chunks.push(chunk as Buffer);
      size += (chunk as Buffer).byteLength;
      if (size >= REASON_BYTES) break;
    }
  } catch {
    // What arrived is reason enough.
  } finally {
    clearTimeout(timer);
    body.destroy();
  }
  const text = Buffer.concat(chunks).subarray(0, REASON_BYTES).toString("utf8");
  try {
    const parsed: unknown = JSON.parse(text);
    const error = isRecord(parsed) ? (isRecord(parsed.error) ? parsed.error : parsed) : {};
    const parts = [error.type, error.code, error.status, error.message].filter((p) => typeof p === "string");
    if (parts.length > 0) return parts.join(": ");
  } catch {
    // Not JSON: the text itself.
  }
  return text.replace(/\s+/g, " ").trim();
}

function firstChunk(body: Readable): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const done = () => {
      body.off("readable", onReadable);
      body.off("end", onEnd);
      body.off("error", onError);
    };
    const onReadable = () => {
      const chunk = body.read() as Buffer | null;
      if (chunk === null) return;
      done();
      resolve(chunk);
    };
    const onEnd = () => {
      done();
      resolve(null);
    };
    const onError = (err: Error) => {
      done();
      reject(err);
    };
    body.on("readable", onReadable);
    body.on("end", onEnd);
    body.on("error", onError);
  });
}

/** The first event of a 2xx stream, when it is an error (Anthropic's overloaded_error, a Bedrock exception): its reason. */
async function streamOpensWithError(upstream: UpstreamResponse): Promise<string | null> {
  const chunk = await firstChunk(upstream.body);
  if (chunk === null) return "the stream ended before its first event";
  upstream.body.unshift(chunk);
  let reason: string | null = null;
  let first = true;
  const parser = framingFor(upstream.headers.get("content-type"), DEFAULT_FRAMINGS, REASON_BYTES).parser((event) => {
    if (!first) return;
    first = false;
    if (event.name?.startsWith("exception:") || event.name?.startsWith("error:")) reason = `${event.name}: ${event.data}`;
    else if (event.name === "error" || /^\s*\{\s*"type"\s*:\s*"error"/.test(event.data)) reason = event.data;
  });
  parser.feed(chunk);
  return reason;
}

/**
 * Sends the call along the plan's targets until one answers. `scrubbed` removes the target's secrets from any
 * upstream text kept as a reason.
 */
export async function sendAlongRoute(plan: RoutePlan, call: ClientCall, sender: RouteSender, routing: RoutingConfig, signal: AbortSignal): Promise<RouteResult> {
  const { pool } = sender;
  const attempts: Attempt[] = plan.skipped.map((s) => ({ provider: s.provider, model: s.model, key: null, outcome: "skipped", status: null, reason: s.reason, duration_ms: 0 }));
  let tried = 0;
  let sent = false;
  let wakesAt: number | null = null;
  let lastBytes = call.bytes;
  let lastFailure: { kind: GatewayErrorKind; message: string } | null = null;
  const usable = (t: Target) => t.provider.adapter.configured(t.provider.config) && keysOf(t.provider.config).length > 0;
  const laterTargetReady = (i: number) => plan.targets.slice(i + 1).some((t) => usable(t) && pool.anyReady(t.provider.name, keysOf(t.provider.config)));
  const limitLeft = () => tried < routing.max_attempts;

  for (let i = 0; i < plan.targets.length; i++) {
    const target = plan.targets[i]!;
    const name = target.provider.name;
    const skip = (reason: string) => attempts.push({ provider: name, model: target.model, key: null, outcome: "skipped", status: null, reason, duration_ms: 0 });
    if (!limitLeft()) {
      skip(`the request's ${routing.max_attempts} attempts were used`);
      continue;
    }
    if (!usable(target)) {
      skip(`provider "${name}" has no credentials configured on the gateway`);
      continue;
    }
    const { ready, wakesAt: wakes } = pool.order(name, keysOf(target.provider.config));
    if (ready.length === 0) {
      if (wakes !== null) wakesAt = wakesAt === null ? wakes : Math.min(wakesAt, wakes);
      skip(`every key of "${name}" is resting${wakes === null ? "" : ` until ${new Date(wakes).toISOString()}`}`);
      continue;
    }
    const scrub = scrubberFor(target.provider.adapter.secrets(target.provider.config));
    for (let k = 0; k < ready.length && limitLeft(); k++) {
      const key = ready[k]!;
      const started = performance.now();
      const record = (outcome: Attempt["outcome"], status: number | null, reason: string | null) =>
        attempts.push({ provider: name, model: target.model, key: key.name, outcome, status, reason: reason === null ? null : scrub.text(reason).slice(0, 300), duration_ms: performance.now() - started });
      const moreKeys = () => k + 1 < ready.length && limitLeft();
      tried++;
      let request: UpstreamRequest;
      try {
        const prepared = await prepareFor(call, target, withKey(target.provider.config, key));
        if ("skip" in prepared) {
          record("skipped", null, prepared.skip);
          break;
        }
        request = prepared;
      } catch (err) {
        if (!(err instanceof ProviderAuthError)) throw err;
        record("failed", null, err.message);
        lastFailure = { kind: "unavailable", message: `provider "${name}": ${err.message}` };
        break;
      }
      let upstream: UpstreamResponse;
      try {
        upstream = await sender.send(request, signal);
      } catch (err) {
        const reason = describeUpstreamError(err);
        if (!neverSent(err)) sent = true;
        pool.attempted(name, key.name, null);
        record("failed", null, reason);
        lastBytes = request.body ?? call.bytes;
        lastFailure = { kind: /timeout/i.test(reason) ? "timeout" : "upstream", message: `upstream ${name} failed: ${reason}` };
        // A connection error says nothing about the key: the next target, not the next key.
        break;
      }
      // An answer dropped unread errors with no reader listening: never fatal.
      upstream.body.on("error", () => undefined);
      sent = true;
      lastBytes = request.body ?? call.bytes;
      pool.attempted(name, key.name, upstream.status);
      const answer = (): RouteResult => {
        record("answered", upstream.status, null);
        return { ok: true, target, key, upstream, bytes: lastBytes, attempts };
      };
      const status = upstream.status;
      if (keyRefused(status)) {
        const asked = requestedRestMs(upstream.headers, Date.now());
        const rest = Math.min(asked ?? (status === 401 ? routing.auth_cooldown : routing.rate_limit_cooldown), routing.max_cooldown);
        pool.rest(name, key.name, rest, `${status} from ${name}`);
      } else if (fallsOver(status)) {
        const asked = requestedRestMs(upstream.headers, Date.now());
        if (asked !== null) pool.rest(name, key.name, Math.min(asked, routing.max_cooldown), `${status} from ${name}`);
      }
      const anotherKey = keyRefused(status) && moreKeys();
      const anotherTarget = laterTargetReady(i) && limitLeft();
      if (status >= 200 && status < 300) {
        if (!call.stream || !anotherTarget) return answer();
        let failure: string | null;
        try {
          failure = await streamOpensWithError(upstream);
        } catch (err) {
          failure = describeUpstreamError(err);
        }
        if (failure === null) return answer();
        upstream.body.destroy();
        record("failed", status, `stream opened with an error: ${failure}`);
        lastFailure = { kind: "upstream", message: `upstream ${name} failed: its stream opened with an error` };
        break;
      }
      if (!fallsOver(status) || !(anotherKey || anotherTarget)) return answer();
      record("failed", status, `${status} ${await readReason(upstream.body)}`);
      if (!anotherKey) break;
    }
  }
  if (wakesAt !== null && !sent) {
    const seconds = Math.max(1, Math.ceil((wakesAt - Date.now()) / 1000));
    return { ok: false, kind: "rate_limit", message: `every key for model "${plan.model}" is resting after the provider refused it; retry in ${seconds}s`, unsent: true, headers: { "retry-after": String(seconds) }, bytes: lastBytes, attempts };
  }
  const failure = lastFailure ?? { kind: "upstream", message: `no target could serve model "${plan.model}"` };
  return { ok: false, ...failure, unsent: !sent, bytes: lastBytes, attempts };
}
