// The synchronous pre_request event: each selected hook may allow the request, block it (with its own status and
// message), or replace the body. A hook that fails (timeout, error status, unreadable reply) is skipped under
// fail_open and refuses the request with 503 under fail_closed.
import { z } from "zod";
import type { HooksConfig } from "../config/hooks.js";
import { isRecord } from "../formats/codec.js";
import type { Denial, Exchange } from "../proxy/exchange.js";
import { type PayloadContext, aperturePayload } from "./aperture-payload.js";
import { preRequestPayload } from "./payload.js";
import { hooksFor } from "./select.js";
import { sendHook } from "./send.js";

const Reply = z.object({
  action: z.enum(["allow", "block", "modify"]),
  status_code: z.number().int().min(400).max(599).optional(),
  message: z.string().optional(),
  request_body: z.unknown().optional(),
});

export interface PreRequestDeps {
  readonly fetch: typeof fetch;
  readonly userAgent: string;
  readonly onError: (err: unknown, context: string) => void;
  readonly context: PayloadContext;
}

type Decision = { readonly action: "allow" } | { readonly action: "block"; readonly status: number; readonly message: string } | { readonly action: "modify"; readonly body: unknown };

function decide(name: string, text: string, ex: Exchange): Decision | { readonly error: string } {
  let reply: z.infer<typeof Reply>;
  try {
    const parsed = Reply.safeParse(JSON.parse(text));
    if (!parsed.success) return { error: `reply is not {action: allow|block|modify, …}: ${parsed.error.issues[0]?.message ?? "invalid"}` };
    reply = parsed.data;
  } catch {
    return { error: "reply is not JSON" };
  }
  if (reply.action === "allow") return { action: "allow" };
  if (reply.action === "block") {
    return { action: "block", status: reply.status_code ?? 403, message: reply.message ?? `request blocked by hook "${name}"` };
  }
  if (!isRecord(reply.request_body)) return { error: "modify reply carries no request_body object" };
  const before = ex.format.requestInfo(ex.body);
  const after = ex.format.requestInfo(reply.request_body);
  // Grants, pricing and the stream framing were decided for this model and mode; a hook may not change them.
  if (after.model !== before.model) return { error: `modify may not change the model ("${before.model}" → "${String(after.model)}")` };
  if (after.stream !== before.stream) return { error: "modify may not change stream" };
  return { action: "modify", body: reply.request_body };
}

export async function runPreRequest(ex: Exchange, hooks: HooksConfig, deps: PreRequestDeps): Promise<Denial | void> {
  for (const { name, hook, send } of hooksFor(ex.entitlement, hooks, "pre_request")) {
    if (!hook) return { kind: "unavailable", message: `pre_request hook "${name}" named in a grant is not defined on the gateway`, category: "hook" };
    const payload = send ? aperturePayload(send, ex, null, [], deps.context) : preRequestPayload(ex, deps.context.tailnetName);
    const delivery = await sendHook(hook, `${ex.id}.pre_request.${name}`, JSON.stringify(payload), deps);
    const decision = delivery.ok ? decide(name, delivery.body, ex) : { error: delivery.error ?? "failed" };
    if ("error" in decision) {
      if (hook.fail_policy === "fail_closed") {
        return { kind: "unavailable", status: 503, message: `pre_request hook "${name}" failed (${decision.error}); refusing to forward`, category: "hook" };
      }
      deps.onError(new Error(decision.error), `pre_request hook ${name} (fail_open, request forwarded)`);
      continue;
    }
    // Aperture's block envelope (guardrail_blocked, invalid_request_error, …) at the status the hook chose.
    if (decision.action === "block") return { kind: "blocked", status: decision.status, message: decision.message, category: "hook" };
    if (decision.action === "modify") ex.body = decision.body;
  }
}
