// Webhooks (Aperture's hooks protocol). Grants choose which hooks fire for whom with `send_hooks: [{name, events,
// send}]`; this section says where each hook lives, how it authenticates and how it fails. A hook proves itself to its
// receiver with Standard Webhooks signatures (`secret`), with Aperture's API key header (`apikey`), or both.
import { Webhook } from "standardwebhooks";
import { z } from "zod";
import { Duration } from "./units.js";

/**
 * `pre_request` runs before forwarding and may allow, block or rewrite; the others are delivered after the response.
 * `budget_alert` (a quota crossed one of its alert thresholds) goes only to hooks that name it.
 */
export const HOOK_EVENTS = ["pre_request", "entire_request", "tool_call", "budget_alert"] as const;
export type HookEvent = (typeof HOOK_EVENTS)[number];
export const ASYNC_HOOK_EVENTS: readonly HookEvent[] = ["entire_request", "tool_call"];

const Secret = z.string().refine(
  (s) => {
    try {
      new Webhook(s);
      return s.startsWith("whsec_");
    } catch {
      return false;
    }
  },
  { message: 'expected a Standard Webhooks secret: "whsec_" followed by base64' },
);

const RetryConfig = z.strictObject({
  /** First retry delay; doubles per attempt (with jitter) up to `max`. */
  initial: Duration.default(1000),
  max: Duration.default(300_000),
  /** Asynchronous events older than this are dropped undelivered. */
  give_up_after: Duration.default(3 * 86_400_000),
});

/** How Aperture sends a hook's `apikey`: "Authorization: Bearer …" (default) or as the named header. */
export const HOOK_AUTHORIZATION = ["bearer", "x-api-key", "x-goog-api-key"] as const;

export const HookConfig = z.strictObject({
  url: z.url({ protocol: /^https?$/ }),
  /** Standard Webhooks signing secret: receivers verify every delivery (keyless's own scheme). */
  secret: Secret.optional(),
  /** Aperture's hook credential, sent as `authorization` says; receivers written for Aperture check it. */
  apikey: z.string().min(1).optional(),
  authorization: z.enum(HOOK_AUTHORIZATION).default("bearer"),
  /** Per delivery attempt; for pre_request it bounds how long the request waits. */
  timeout: Duration.default(5000),
  /** What a pre_request failure (timeout, error status, unreadable reply) does: forward anyway, or refuse with 503. */
  fail_policy: z.enum(["fail_open", "fail_closed"]).default("fail_open"),
  /** pre_request hooks run highest preference first, then by name. */
  preference: z.number().int().default(0),
  disabled: z.boolean().default(false),
  /** Asynchronous events are retried (each delivery says its attempt in `webhook-attempt`); "0s" sends once, as Aperture. */
  retry: RetryConfig.default({ initial: 1000, max: 300_000, give_up_after: 3 * 86_400_000 }),
}).refine((hook) => hook.secret !== undefined || hook.apikey !== undefined, {
  message: 'a hook needs "secret" (Standard Webhooks signatures) or "apikey" (Aperture\'s bearer token): receivers must be able to tell keyless\'s calls from anyone else\'s',
});
export type HookConfig = z.infer<typeof HookConfig>;

export const HooksConfig = z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/, "hook names are letters, digits, _ . -"), HookConfig);
export type HooksConfig = z.infer<typeof HooksConfig>;

/** The events a send_hooks entry asks for; an empty list means every asynchronous event. */
export function requestedEvents(events: readonly string[]): readonly HookEvent[] {
  if (events.length === 0) return ASYNC_HOOK_EVENTS;
  return HOOK_EVENTS.filter((e) => events.includes(e) || (e === "tool_call" && events.includes("tool_call_entire_request")));
}
