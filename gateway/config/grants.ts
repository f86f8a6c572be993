// Grants: who may use the gateway, in which role, for which models, with which quotas and guardrails.
// The shape is Aperture's (tailscale.com/docs/aperture/configuration) so grants move between an Aperture config, a
// keyless config and the tailnet policy unchanged.
import { z } from "zod";

export const DEFAULT_CAPABILITY = "keyless.dev/cap/gateway";
/** Aperture's capability: read beside keyless's, so an Aperture user's tailnet policy grants work as they are. */
export const APERTURE_CAPABILITY = "tailscale.com/cap/aperture";

const ModelGlob = z.string().regex(/^[^\s]+$/, "model globs are \"provider/model\" without spaces");

export const QuotaRef = z.strictObject({
  bucket: z.string().min(1),
  /** Overdraft chain: what `bucket` cannot cover is borrowed from these, in order (the last may go negative). */
  overdraft: z.array(z.string().min(1)).max(8).optional(),
});

export type QuotaRef = z.infer<typeof QuotaRef>;

/** "redact" applies to secret rules (the secret is replaced before forwarding); for tool-call rules it counts as "flag". */
export const GuardrailAction = z.enum(["log", "flag", "redact", "block"]);
export type GuardrailAction = z.infer<typeof GuardrailAction>;

/** What a hook payload carries beyond its metadata, as Aperture's `send` names it (webhooks/payload.ts). */
export const HOOK_SEND = ["request_body", "response_body", "raw_responses", "user_message", "tools", "grants", "estimated_cost", "quotas"] as const;
export type HookSend = (typeof HOOK_SEND)[number];

export const SendHook = z.strictObject({
  name: z.string(),
  events: z.array(z.string()).default([]),
  /** Aperture's payload selection. Absent on every entry naming a hook: keyless's full payload. */
  send: z.array(z.enum(HOOK_SEND)).optional(),
});

/**
 * Grant fields Aperture documents that keyless accepts and does not act on, and why. A value carrying them is kept
 * (its role, models, quotas and hooks apply); the fields are named in a warning, never silently dropped.
 */
export const IGNORED_GRANT_FIELDS = {
  mcp_tools: "keyless has no MCP connectors (/v1/mcp answers 501)",
  mcp_resources: "keyless has no MCP connectors (/v1/mcp answers 501)",
  mcp_templates: "keyless has no MCP connectors (/v1/mcp answers 501)",
  connectors: "keyless has no MCP or HTTP connectors (/v1/mcp and /v1/connectors/ answer 501)",
  enable_chat_ui: "keyless has no chat UI",
  set_cors: "keyless answers no cross-origin requests (browsers are refused on purpose)",
  cors_paths: "keyless answers no cross-origin requests (browsers are refused on purpose)",
} as const satisfies Record<string, string>;

/** Accepted as Aperture writes them; their shapes are Aperture's business, keyless reads none of them. */
const Ignored = z.unknown().optional();
const ignoredFields = {
  mcp_tools: Ignored,
  mcp_resources: Ignored,
  mcp_templates: Ignored,
  connectors: Ignored,
  enable_chat_ui: Ignored,
  set_cors: Ignored,
  cors_paths: Ignored,
} satisfies Record<keyof typeof IGNORED_GRANT_FIELDS, typeof Ignored>;

/** One value of the capability. Fields are independent; a grant may carry several values. */
export const GrantValue = z.strictObject({
  role: z.enum(["admin", "user"]).optional(),
  models: z.union([ModelGlob, z.array(ModelGlob)]).optional(),
  quotas: z.array(QuotaRef).optional(),
  /** Request, token and concurrency limits (config `rate_limits`), enforced beside the dollar quotas. */
  rate_limits: z.array(z.strictObject({ bucket: z.string().min(1) })).max(16).optional(),
  /** Per-grant overrides of the guardrail actions: rule id or category → action, plus "default". */
  guardrails: z.record(z.string(), GuardrailAction).optional(),
  send_hooks: z.array(SendHook).optional(),
  add_headers: z.array(z.string().regex(/^[A-Za-z0-9-]+:\s?.*$/, "expected \"Name: value\"")).optional(),
  /** Lets the caller read /metrics without the admin role. */
  read_metrics: z.boolean().optional(),
  ...ignoredFields,
});
export type GrantValue = z.infer<typeof GrantValue>;

/** The Aperture fields a grant value carries that keyless ignores, each with the reason. */
export function ignoredGrantFields(value: object): string[] {
  return Object.entries(IGNORED_GRANT_FIELDS)
    .filter(([field]) => field in value)
    .map(([field, why]) => `${field} (${why})`);
}

export const Grant = z.strictObject({
  src: z.array(z.string().min(1)).min(1),
  /** Tailnet policy grants need dst; config grants ignore it (the gateway is the destination). */
  dst: z.array(z.string()).optional(),
  app: z.record(z.string(), z.array(z.unknown())),
});
export type Grant = z.infer<typeof Grant>;

type GrantList = readonly { readonly app: Readonly<Record<string, readonly unknown[]>> }[];

/** The parts of a config that hold grant values (before the whole config is parsed). */
export interface GrantsView {
  readonly capability: string;
  readonly aperture_capability: string;
  readonly grants: GrantList;
  readonly temp_grants: GrantList;
}

/** The capability names a config reads grants from: keyless's, then Aperture's unless turned off, each once. */
export function grantCapabilities(config: { readonly capability: string; readonly aperture_capability: string }): string[] {
  return [...new Set([config.capability, config.aperture_capability].filter((c) => c !== ""))];
}

/** Every config grant, Aperture's temp_grants after keyless's grants ("config#N" counts across both). */
export function configGrants<G>(config: { readonly grants: readonly G[]; readonly temp_grants: readonly G[] }): readonly G[] {
  return config.temp_grants.length === 0 ? config.grants : [...config.grants, ...config.temp_grants];
}

/** Every value of every config grant under a grant capability, with its config path. */
export function configGrantValues(config: GrantsView): { readonly path: (string | number)[]; readonly raw: unknown }[] {
  const capabilities = grantCapabilities(config);
  const sections = [["grants", config.grants], ["temp_grants", config.temp_grants]] as const;
  return sections.flatMap(([section, grants]) =>
    grants.flatMap((grant, i) => capabilities.flatMap((cap) => (grant.app[cap] ?? []).map((raw, j) => ({ path: [section, i, "app", cap, j], raw })))),
  );
}

/**
 * Config grant values must parse: a field neither keyless nor Aperture knows ("modles") fails the load, where in the
 * tailnet policy it can only void its value.
 */
export function checkGrantValues(config: GrantsView, ctx: z.RefinementCtx): void {
  for (const { path, raw } of configGrantValues(config)) {
    const parsed = GrantValue.safeParse(raw);
    if (parsed.success) continue;
    for (const issue of parsed.error.issues) {
      const message = issue.code === "unrecognized_keys" ? issue.keys.map((k) => `unknown grant field "${k}"`).join(", ") : issue.message;
      ctx.addIssue({ code: "custom", path: [...path, ...issue.path.map((p) => (typeof p === "symbol" ? String(p) : p))], message });
    }
  }
}
