// One webhook delivery: Standard Webhooks headers (webhook-id, webhook-timestamp, and webhook-signature over
// "<id>.<timestamp>.<body>" with HMAC-SHA256 when the hook has a secret), Aperture's API key header when it has an
// apikey. Never throws: failures come back as a reason, which never carries the hook's credentials.
import { Webhook } from "standardwebhooks";
import type { HookConfig } from "../config/hooks.js";
import { readBody } from "../http/read-body.js";

export interface Delivery {
  readonly ok: boolean;
  readonly status: number | null;
  /** The reply body (capped), for pre_request decisions. */
  readonly body: string;
  /** Why it failed: "timeout after 5000 ms", "status 500", "ECONNREFUSED". */
  readonly error?: string;
}

const MAX_REPLY_BYTES = 32 * 1024 * 1024;

/** The headers that authenticate a delivery (`attempt` counts from 1; retries of an event share its webhook-id). */
export function signedHeaders(hook: HookConfig, msgId: string, payload: string, now = new Date(), attempt = 1): Record<string, string> {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "webhook-id": msgId,
    "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
    "webhook-attempt": String(attempt),
  };
  if (hook.secret !== undefined) headers["webhook-signature"] = new Webhook(hook.secret).sign(msgId, now, payload);
  if (hook.apikey !== undefined) {
    if (hook.authorization === "bearer") headers.authorization = `Bearer ${hook.apikey}`;
    else headers[hook.authorization] = hook.apikey;
  }
  return headers;
}

export async function sendHook(
  hook: HookConfig,
  msgId: string,
  payload: string,
  options: { fetch: typeof fetch; userAgent: string; maxReplyBytes?: number; attempt?: number },
): Promise<Delivery> {
  const signal = AbortSignal.timeout(hook.timeout);
  let res: Response;
  try {
    res = await options.fetch(hook.url, {
      method: "POST",
      headers: { ...signedHeaders(hook, msgId, payload, new Date(), options.attempt), "user-agent": options.userAgent },
      body: payload,
      signal,
      redirect: "manual",
    });
  } catch (err) {
    return { ok: false, status: null, body: "", error: signal.aborted ? `timeout after ${hook.timeout} ms` : describe(err) };
  }
  let body: string;
  try {
    body = Buffer.from(await readBody(res, options.maxReplyBytes ?? MAX_REPLY_BYTES)).toString("utf8");
  } catch (err) {
    return { ok: false, status: res.status, body: "", error: signal.aborted ? `timeout after ${hook.timeout} ms` : `reply: ${describe(err)}` };
  }
  if (res.status < 200 || res.status >= 300) return { ok: false, status: res.status, body, error: `status ${res.status}` };
  return { ok: true, status: res.status, body };
}

function describe(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  return cause?.code ?? cause?.message ?? (err as Error)?.message ?? "unknown error";
}
