// The routing sections of the config: model aliases, ordered fallback targets per model, and how long a provider key
// that answered 429 or 401 rests. Targets name providers by their config name; checkRouting verifies they exist.
import { z } from "zod";
import { ProviderName } from "./providers.js";
import { Duration } from "./units.js";

/** A model name as clients send it and as providers take it (the proxy's own SAFE_MODEL check applies on top). */
const ModelName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:@+\/-]{0,255}$/, "expected a model id");

/** "claude-sonnet" → "claude-sonnet-4-6": agents keep one name while the admin moves what it means. */
export const AliasesConfig = z.record(ModelName, ModelName).superRefine((aliases, ctx) => {
  for (const [alias, model] of Object.entries(aliases)) {
    // One level only: a chain would make "which model is this" depend on the order of edits.
    if (aliases[model] !== undefined) ctx.addIssue({ code: "custom", path: [alias], message: `alias "${alias}" points at "${model}", which is itself an alias` });
  }
});
export type AliasesConfig = z.infer<typeof AliasesConfig>;

export const RouteTarget = z.strictObject({
  provider: ProviderName,
  /** The model id at this provider (Bedrock and Vertex spell Claude differently); default: the routed model's name. */
  model: ModelName.optional(),
});
export type RouteTarget = z.infer<typeof RouteTarget>;

/** Model → the targets that serve it, tried in order until one answers before its first byte. */
export const RoutesConfig = z.record(ModelName, z.array(RouteTarget).min(1).max(8));
export type RoutesConfig = z.infer<typeof RoutesConfig>;

export const RoutingConfig = z.strictObject({
  /** How long a key that answered 429 rests when the provider names no retry-after or rate-limit reset. */
  rate_limit_cooldown: Duration.default(30_000),
  /** How long a key the provider refused (401) rests: a bad key rarely heals by itself. */
  auth_cooldown: Duration.default(300_000),
  /** The longest retry-after honoured for a key's rest; a provider asking for more is capped to this. */
  max_cooldown: Duration.default(3_600_000),
  /** Upstream attempts per request at most, over every target and key. */
  max_attempts: z.number().int().min(1).max(16).default(4),
});
export type RoutingConfig = z.infer<typeof RoutingConfig>;
export const DEFAULT_ROUTING: RoutingConfig = { rate_limit_cooldown: 30_000, auth_cooldown: 300_000, max_cooldown: 3_600_000, max_attempts: 4 };

interface RoutingView {
  readonly providers: Readonly<Record<string, unknown>>;
  readonly routes: RoutesConfig;
  readonly aliases: AliasesConfig;
}

/** Route targets that name no configured provider; routes keyed by an alias (aliases resolve first, so never used). */
export function checkRouting(config: RoutingView, ctx: z.RefinementCtx): void {
  for (const [model, targets] of Object.entries(config.routes)) {
    if (config.aliases[model] !== undefined) {
      ctx.addIssue({ code: "custom", path: ["routes", model], message: `"${model}" is an alias; route the model it points at ("${config.aliases[model]}")` });
    }
    targets.forEach((t, i) => {
      if (config.providers[t.provider] === undefined) ctx.addIssue({ code: "custom", path: ["routes", model, i, "provider"], message: `no provider named "${t.provider}"` });
    });
  }
}
