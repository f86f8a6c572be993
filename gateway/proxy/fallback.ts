// The upstream send path with fallbacks: targets in order, and within a target its keys (the weighted pick first).
// A key answered 429 or 401 rests (for the provider's retry-after, or the configured cooldown) and the next key is
// tried; a connection error, 408, 5xx or 529, or a stream whose first event is an error, moves on to the next
// target. All of this happens before the client has seen a byte: once a response is handed back it is never retried,
// so a stream that fails half-way ends with the provider's own error event. The last possible attempt's answer is
// handed back as the provider sent it, so the client sees the provider's own error.
import { Readable } from "node:stream";
import type { ProviderConfig } from "../config/providers.js";
import type { RoutingConfig } from "../config/routing.js";
import type { GatewayErrorKind } from "../formats/codec.js";
import { ProviderAuthError, type UpstreamInput, type UpstreamRequest } from "../providers/types.js";
import type { RouteDef } from "./routes.js";
import { scrubberFor } from "./scrub.js";
import { type UpstreamResponse, describeUpstreamError, neverSent } from "./upstream.js";
import { DEFAULT_FRAMINGS, framingFor } from "../stream/index.js";
import { requestedRestMs } from "./cooldown.js";
import { type KeyPool, type PoolKey, keysOf, withKey } from "./key-pool.js";
import type { RoutePlan, Target } from "./route-plan.js";

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
  /** The caller's own credentials, for passthrough providers. */
  readonly clientCredentials: UpstreamInput["clientCredentials"];
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
      { path: call.route.upstreamPath(call.match, target.model), query: call.query, method: call.method, headers: new Headers(call.headers), body, model: target.model, clientCredentials: call.clientCredentials },
      config,
    );
  }
  if (!isRecord(call.body)) return { skip: "the request body is not an object to translate" };
  const headers = new Headers(call.headers);
  const body = encoder.encode(JSON.stringify(translation.body(call.body, headers)));
  return target.provider.adapter.prepare({ path: translation.path(target.model, call.stream), query: new URLSearchParams(), method: call.method, headers, body, model: target.model, clientCredentials: call.clientCredentials }, config);
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

/**
 * The stream's first chunk put back in front of the rest. Not `unshift`: a short answer can arrive whole with its end
 * in that chunk, and undici destroys an ended body, so what is put back would never be read (the client got nothing).
 */
function withFirstChunk(chunk: Buffer, body: Readable): Readable {
  const whole = Readable.from(
    (async function* () {
      yield chunk;
      yield* body;
    })(),
    { objectMode: false },
  );
  // Dropped unread, it errors with no reader listening: never fatal. Closed early, it lets go of the upstream too.
  whole.on("error", () => undefined).once("close", () => body.destroy());
  return whole;
}

/**
 * A 2xx stream's first event: its reason when it is an error (Anthropic's overloaded_error, a Bedrock exception), and
 * the response to hand on, whole.
 */
async function peekStream(upstream: UpstreamResponse): Promise<{ readonly failure: string | null; readonly upstream: UpstreamResponse }> {
  const chunk = await firstChunk(upstream.body);
  if (chunk === null) return { failure: "the stream ended before its first event", upstream };
  let reason: string | null = null;
  let first = true;
  const parser = framingFor(upstream.headers.get("content-type"), DEFAULT_FRAMINGS, REASON_BYTES).parser((event) => {
    if (!first) return;
    first = false;
    if (event.name?.startsWith("exception:") || event.name?.startsWith("error:")) reason = `${event.name}: ${event.data}`;
    else if (event.name === "error" || /^\s*\{\s*"type"\s*:\s*"error"/.test(event.data)) reason = event.data;
  });
  parser.feed(chunk);
  return { failure: reason, upstream: { ...upstream, body: withFirstChunk(chunk, upstream.body) } };
}

/** What one try on one key leads to: an answer for the client, the next key of the target, or the next target. */
type Next = { readonly answer: RouteResult } | "next-key" | "next-target";

/** One request's walk along its targets and keys, with what it has learnt so far. */
class RouteWalk {
  readonly attempts: Attempt[];
  private tried = 0;
  private sent = false;
  private wakesAt: number | null = null;
  private lastBytes: Uint8Array;
  private lastFailure: { kind: GatewayErrorKind; message: string } | null = null;

  constructor(
    private readonly plan: RoutePlan,
    private readonly call: ClientCall,
    private readonly sender: RouteSender,
    private readonly routing: RoutingConfig,
    private readonly signal: AbortSignal,
  ) {
    this.attempts = plan.skipped.map((s) => ({ provider: s.provider, model: s.model, key: null, outcome: "skipped", status: null, reason: s.reason, duration_ms: 0 }));
    this.lastBytes = call.bytes;
  }

  private usable(t: Target): boolean {
    return t.provider.adapter.configured(t.provider.config) && keysOf(t.provider.config).length > 0;
  }

  private laterTargetReady(i: number): boolean {
    return this.limitLeft() && this.plan.targets.slice(i + 1).some((t) => this.usable(t) && this.sender.pool.anyReady(t.provider.name, keysOf(t.provider.config)));
  }

  private limitLeft(): boolean {
    return this.tried < this.routing.max_attempts;
  }

  private skip(target: Target, reason: string): void {
    this.attempts.push({ provider: target.provider.name, model: target.model, key: null, outcome: "skipped", status: null, reason, duration_ms: 0 });
  }

  /** The keys to try on a target, in order; none (and the reason recorded) when it cannot be tried. */
  private keysFor(target: Target): PoolKey[] {
    const name = target.provider.name;
    if (!this.limitLeft()) return (this.skip(target, `the request's ${this.routing.max_attempts} attempts were used`), []);
    if (!this.usable(target)) return (this.skip(target, `provider "${name}" has no credentials configured on the gateway`), []);
    const { ready, wakesAt } = this.sender.pool.order(name, keysOf(target.provider.config));
    if (ready.length === 0) {
      if (wakesAt !== null) this.wakesAt = this.wakesAt === null ? wakesAt : Math.min(this.wakesAt, wakesAt);
      this.skip(target, `every key of "${name}" is resting${wakesAt === null ? "" : ` until ${new Date(wakesAt).toISOString()}`}`);
    }
    return ready;
  }

  async run(): Promise<RouteResult> {
    for (let i = 0; i < this.plan.targets.length; i++) {
      const target = this.plan.targets[i]!;
      const keys = this.keysFor(target);
      for (let k = 0; k < keys.length && this.limitLeft(); k++) {
        const next = await this.tryKey(i, target, keys[k]!, k + 1 < keys.length);
        if (next === "next-target") break;
        if (next !== "next-key") return next.answer;
      }
    }
    return this.failed();
  }

  private sentCallerCredential(target: Target): boolean {
    const { config } = target.provider;
    return "auth_mode" in config && config.auth_mode === "passthrough" && (this.call.clientCredentials?.length ?? 0) > 0;
  }

  /** Rests a key the provider refused (429, 401) or asked to wait (retry-after on a 5xx). */
  private restKey(name: string, key: PoolKey, upstream: UpstreamResponse): void {
    const { status } = upstream;
    const asked = requestedRestMs(upstream.headers, Date.now());
    if (keyRefused(status)) {
      const rest = asked ?? (status === 401 ? this.routing.auth_cooldown : this.routing.rate_limit_cooldown);
      this.sender.pool.rest(name, key.name, Math.min(rest, this.routing.max_cooldown), `${status} from ${name}`);
    } else if (fallsOver(status) && asked !== null) {
      this.sender.pool.rest(name, key.name, Math.min(asked, this.routing.max_cooldown), `${status} from ${name}`);
    }
  }

  private async tryKey(i: number, target: Target, key: PoolKey, moreKeys: boolean): Promise<Next> {
    const name = target.provider.name;
    const scrub = scrubberFor(target.provider.adapter.secrets(target.provider.config));
    const started = performance.now();
    const record = (outcome: Attempt["outcome"], status: number | null, reason: string | null) =>
      this.attempts.push({ provider: name, model: target.model, key: key.name, outcome, status, reason: reason === null ? null : scrub.text(reason).slice(0, 300), duration_ms: performance.now() - started });
    this.tried++;
    const request = await this.prepare(target, key, record);
    if (!request) return "next-target";
    let upstream: UpstreamResponse;
    try {
      upstream = await this.sender.send(request, this.signal);
    } catch (err) {
      const reason = describeUpstreamError(err);
      if (!neverSent(err)) this.sent = true;
      this.sender.pool.attempted(name, key.name, null);
      record("failed", null, reason);
      this.lastFailure = { kind: /timeout/i.test(reason) ? "timeout" : "upstream", message: `upstream ${name} failed: ${reason}` };
      // A connection error says nothing about the key: the next target, not the next key.
      return "next-target";
    }
    // An answer dropped unread errors with no reader listening: never fatal.
    upstream.body.on("error", () => undefined);
    this.sent = true;
    this.sender.pool.attempted(name, key.name, upstream.status);
    // A refusal of the caller's own credential (passthrough) says nothing about the gateway's keys: none rests for it.
    if (!this.sentCallerCredential(target)) this.restKey(name, key, upstream);
    const answer = (handed = upstream): Next => (record("answered", handed.status, null), { answer: { ok: true, target, key, upstream: handed, bytes: this.lastBytes, attempts: this.attempts } });
    const { status } = upstream;
    const anotherKey = keyRefused(status) && moreKeys && this.limitLeft();
    const anotherTarget = this.laterTargetReady(i);
    if (status >= 200 && status < 300) {
      if (!this.call.stream || !anotherTarget) return answer();
      const { failure, upstream: peeked } = await peekStream(upstream).catch((err: unknown) => ({ failure: describeUpstreamError(err), upstream }));
      if (failure === null) return answer(peeked);
      peeked.body.destroy();
      record("failed", status, `stream opened with an error: ${failure}`);
      this.lastFailure = { kind: "upstream", message: `upstream ${name} failed: its stream opened with an error` };
      return "next-target";
    }
    if (!fallsOver(status) || !(anotherKey || anotherTarget)) return answer();
    record("failed", status, `${status} ${await readReason(upstream.body)}`);
    return anotherKey ? "next-key" : "next-target";
  }

  /** The target's request with this key, or null (recorded) when the target cannot take it. */
  private async prepare(target: Target, key: PoolKey, record: (outcome: Attempt["outcome"], status: number | null, reason: string | null) => void): Promise<UpstreamRequest | null> {
    try {
      const prepared = await prepareFor(this.call, target, withKey(target.provider.config, key));
      if ("skip" in prepared) {
        record("skipped", null, prepared.skip);
        return null;
      }
      this.lastBytes = prepared.body ?? this.call.bytes;
      return prepared;
    } catch (err) {
      if (!(err instanceof ProviderAuthError)) throw err;
      record("failed", null, err.message);
      this.lastFailure = { kind: "unavailable", message: `provider "${target.provider.name}": ${err.message}` };
      return null;
    }
  }

  private failed(): RouteResult {
    if (this.wakesAt !== null && !this.sent) {
      const seconds = Math.max(1, Math.ceil((this.wakesAt - Date.now()) / 1000));
      const message = `every key for model "${this.plan.model}" is resting after the provider refused it; retry in ${seconds}s`;
      return { ok: false, kind: "rate_limit", message, unsent: true, headers: { "retry-after": String(seconds) }, bytes: this.lastBytes, attempts: this.attempts };
    }
    const failure = this.lastFailure ?? { kind: "upstream" as const, message: `no target could serve model "${this.plan.model}"` };
    return { ok: false, ...failure, unsent: !this.sent, bytes: this.lastBytes, attempts: this.attempts };
  }
}

/** Sends the call along the plan's targets and their keys until one answers (see the top of this file). */
export function sendAlongRoute(plan: RoutePlan, call: ClientCall, sender: RouteSender, routing: RoutingConfig, signal: AbortSignal): Promise<RouteResult> {
  return new RouteWalk(plan, call, sender, routing, signal).run();
}
