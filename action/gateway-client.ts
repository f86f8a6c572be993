// The gateway's CI session API as the Action calls it (contract: src/ci-session.ts).
import { z } from "zod";
import { ApiError, type CreateSessionRequest, CreateSessionResponse, SessionSummary } from "../src/ci-session.js";
import type { Clock } from "./deps.js";
import { ActionError } from "./errors.js";

const REQUEST_TIMEOUT_MS = 15_000;
const HEALTH_ATTEMPT_TIMEOUT_MS = 5_000;

export interface GatewayDeps {
  readonly fetch: typeof fetch;
  readonly clock: Clock;
}

/** Polls `/healthz` until it answers 2xx; new tailnet nodes may take a few seconds to see their peers. */
export async function waitForHealth(base: string, timeoutMs: number, hint: string, deps: GatewayDeps): Promise<void> {
  const deadline = deps.clock.now() + timeoutMs;
  let last = "no attempt made";
  for (let delay = 250; ; delay = Math.min(delay * 2, 2_000)) {
    try {
      const res = await deps.fetch(`${base}/healthz`, { signal: AbortSignal.timeout(HEALTH_ATTEMPT_TIMEOUT_MS) });
      await res.body?.cancel();
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = networkError(err);
    }
    if (deps.clock.now() + delay > deadline) break;
    await deps.clock.sleep(delay);
  }
  throw new ActionError(
    `The gateway ${base} did not answer GET /healthz within ${Math.round(timeoutMs / 1000)}s (last attempt: ${last}). ` +
      `Check that the gateway is running and online in the tailnet under that name, and that ${hint}. ` +
      "Raise `timeout` if the tailnet is slow to connect.",
  );
}

export async function createSession(base: string, body: CreateSessionRequest, fetchFn: typeof fetch): Promise<CreateSessionResponse> {
  const res = await call(fetchFn, `${base}/v1/ci/sessions`, "POST", body, "register the job");
  if (!res.ok) throw new ActionError(`The gateway refused to register this job: ${await apiError(res)}`);
  return parseBody(res, CreateSessionResponse, "session");
}

/** `token`: the session token of a runner off the tailnet (presented as its API key); on the tailnet, the node suffices. */
export async function finishSession(base: string, id: string, fetchFn: typeof fetch, token?: string): Promise<void> {
  const res = await call(fetchFn, `${base}/v1/ci/sessions/${encodeURIComponent(id)}/finish`, "POST", {}, "finish the session", token);
  if (!res.ok) throw new Error(`finishing session ${id} failed: ${await apiError(res)}`);
  await res.body?.cancel();
}

export async function getSummary(base: string, id: string, fetchFn: typeof fetch, token?: string): Promise<SessionSummary> {
  const res = await call(fetchFn, `${base}/v1/ci/sessions/${encodeURIComponent(id)}/summary`, "GET", undefined, "fetch the summary", token);
  if (!res.ok) throw new Error(`fetching the summary of session ${id} failed: ${await apiError(res)}`);
  return parseBody(res, SessionSummary, "session summary");
}

async function call(fetchFn: typeof fetch, url: string, method: string, body: unknown, what: string, token?: string): Promise<Response> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (token) headers["x-api-key"] = token;
  try {
    return await fetchFn(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (err) {
    throw new ActionError(`could not reach the gateway to ${what} (${method} ${url}): ${networkError(err)}`);
  }
}

/** "HTTP 403 repo_not_mapped: <the gateway's message>", or the start of a body that is not keyless's error shape. */
async function apiError(res: Response): Promise<string> {
  const text = await res.text().catch(() => "");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const parsed = ApiError.safeParse(json);
  if (parsed.success) return `HTTP ${res.status} ${parsed.data.error.code}: ${parsed.data.error.message}`;
  const snippet = text.replace(/\s+/g, " ").trim().slice(0, 300);
  return `HTTP ${res.status}${snippet ? `: ${snippet}` : ""}`;
}

async function parseBody<T>(res: Response, schema: z.ZodType<T>, what: string): Promise<T> {
  const parsed = schema.safeParse(await res.json().catch(() => undefined));
  if (!parsed.success) {
    throw new ActionError(`the gateway answered with an unexpected ${what} (${z.prettifyError(parsed.error).replace(/\n/g, " ")}); are the Action and gateway versions compatible?`);
  }
  return parsed.data;
}

/** Node's fetch hides the useful part (ECONNREFUSED, ENOTFOUND …) in `cause`. */
export function networkError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  if (err.name === "TimeoutError" || err.name === "AbortError") return "timed out";
  const cause = (err as Error & { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ? `${cause.code}${cause.message ? ` (${cause.message})` : ""}` : (cause?.message ?? err.message);
}
