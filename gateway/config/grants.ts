// Grants: who may use the gateway, in which role, for which models, with which quotas and guardrails.
// The shape mirrors Aperture's (tailscale.com/docs/aperture/configuration) so grants can move to the tailnet policy.
import { z } from "zod";

export const DEFAULT_CAPABILITY = "keyless.dev/cap/gateway";

const ModelGlob = z.string().regex(/^[^\s]+$/, "model globs are \"provider/model\" without spaces");

export const QuotaRef = z.strictObject({
  bucket: z.string().min(1),
  /** Overdraft chain: what `bucket` cannot cover is borrowed from these, in order (the last may go negative). */
  overdraft: z.array(z.string().min(1)).max(8).optional(),
});

export type QuotaRef = z.infer<typeof QuotaRef>;

export const GuardrailAction = z.enum(["log", "flag", "block"]);
export type GuardrailAction = z.infer<typeof GuardrailAction>;

/** One value of the capability. Fields are independent; a grant may carry several values. */
export const GrantValue = z.strictObject({
  role: z.enum(["admin", "user"]).optional(),
  models: z.union([ModelGlob, z.array(ModelGlob)]).optional(),
  quotas: z.array(QuotaRef).optional(),
  /** Request, token and concurrency limits (config `rate_limits`), enforced beside the dollar quotas. */
  rate_limits: z.array(z.strictObject({ bucket: z.string().min(1) })).max(16).optional(),
  /** Per-grant overrides of the guardrail actions: rule id or category → action, plus "default". */
  guardrails: z.record(z.string(), GuardrailAction).optional(),
  send_hooks: z.array(z.strictObject({ name: z.string(), events: z.array(z.string()).default([]) })).optional(),
  add_headers: z.array(z.string().regex(/^[A-Za-z0-9-]+:\s?.*$/, "expected \"Name: value\"")).optional(),
  /** Lets the caller read /metrics without the admin role. */
  read_metrics: z.boolean().optional(),
});
export type GrantValue = z.infer<typeof GrantValue>;

export const Grant = z.strictObject({
  src: z.array(z.string().min(1)).min(1),
  /** Tailnet policy grants need dst; config grants ignore it (the gateway is the destination). */
  dst: z.array(z.string()).optional(),
  app: z.record(z.string(), z.array(z.unknown())),
});
export type Grant = z.infer<typeof Grant>;
