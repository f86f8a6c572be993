// The whole config: zod is the single source of truth; every type here is inferred.
import { z } from "zod";
import { GitHubConfig } from "./github.js";
import { APERTURE_CAPABILITY, DEFAULT_CAPABILITY, Grant, checkGrantValues } from "./grants.js";
import { GuardrailsConfig } from "./guardrails.js";
import { HooksConfig } from "./hooks.js";
import { TailnetPolicyConfig } from "./policy.js";
import { ProviderConfig, ProviderName } from "./providers.js";
import { QuotaStoreConfig } from "./quota-store.js";
import { DEFAULT_QUOTA_ESTIMATE, QuotaEstimateConfig, QuotasConfig, checkQuotaReferences } from "./quotas.js";
import { RateLimitsConfig, checkRateLimitReferences } from "./rate-limits.js";
import { AliasesConfig, DEFAULT_ROUTING, RoutesConfig, RoutingConfig, checkRouting } from "./routing.js";
import { RetentionConfig } from "./retention.js";
import { TelemetryConfig } from "./telemetry.js";
import { ExportConfig } from "./export.js";
import { Duration, Size } from "./units.js";

/** Local reverse proxies whose forwarded caller address keyless may trust (opt-in). */
export const TrustedProxy = z.enum(["tailscale-serve"]);
export type TrustedProxy = z.infer<typeof TrustedProxy>;

export const IdentityConfig = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("tailscale"),
    socket: z.string().default("/var/run/tailscale/tailscaled.sock"),
    /** How long to wait for tailscaled's LocalAPI answer. */
    timeout: Duration.default(2000),
    /** Opt-in: identify loopback requests by the X-Forwarded-For tailscaled's serve proxy sets (docs/security.md). */
    trusted_proxy: TrustedProxy.optional(),
  }),
  z.strictObject({ type: z.literal("local") }),
]);
export type IdentityConfig = z.infer<typeof IdentityConfig>;

export const DatabaseConfig = z
  .strictObject({
    /** "sqlite": one file on this machine (default). "postgres": one database every replica shares. */
    type: z.enum(["sqlite", "postgres"]).default("sqlite"),
    /** The SQLite file (type sqlite). */
    path: z.string().default("keyless.db"),
    /** postgres://user:password@host:5432/database (type postgres); write it as "${KEYLESS_DATABASE_URL}". */
    url: z.string().regex(/^postgres(ql)?:\/\/./, 'expected a PostgreSQL URL such as "postgres://keyless@db:5432/keyless"').optional(),
    /** Connections each replica keeps (type postgres). */
    pool_size: z.number().int().min(1).max(200).default(10),
    /**
     * How long a replica's claim on a webhook message or a check-run write holds: another replica takes the work over
     * once a claim is this old (its replica died). Longer than any hook's timeout.
     */
    claim_lease: Duration.default(60_000),
    /**
     * Captures older than this are purged (rows with usage and cost stay): "30d", "" forever, "0" nothing, or
     * Aperture's `{duration, purge, require_export}`.
     */
    retention: RetentionConfig.prefault(""),
    /** Each captured body is cut at this size before it is compressed and stored. */
    capture_limit: Size.default(1024 * 1024),
  })
  .refine((d) => d.type !== "postgres" || d.url !== undefined, { message: 'database type "postgres" needs a url', path: ["url"] });
export type DatabaseConfig = z.infer<typeof DatabaseConfig>;

export const LimitsConfig = z.strictObject({
  /** Largest request body the gateway accepts (413 beyond it). */
  max_body: Size.default(32 * 1024 * 1024),
  /** Upstream connect-and-headers timeout; streaming bodies are not cut by it. */
  upstream_timeout: Duration.default(600_000),
});

export const PriceOverride = z.strictObject({
  /** Dollars per million tokens. */
  input: z.number().nonnegative(),
  output: z.number().nonnegative(),
  cache_read: z.number().nonnegative().optional(),
  cache_write: z.number().nonnegative().optional(),
});
export type PriceOverride = z.infer<typeof PriceOverride>;

export const Config = z.strictObject({
  $schema: z.string().optional(),
  listen: z.string().default("127.0.0.1:8080"),
  /**
   * Host names the gateway answers to beyond addresses, localhost, MagicDNS short names and *.ts.net (a custom domain
   * in front of it). Any other Host is refused, so a DNS name an attacker controls cannot reach it from a browser.
   */
  allowed_hosts: z.array(z.string().min(1)).default([]),
  identity: IdentityConfig.default({ type: "local" }),
  /** Application capability that carries keyless grants, in config grants and in the tailnet policy. */
  capability: z.string().default(DEFAULT_CAPABILITY),
  /** Aperture's capability, read beside `capability` in config grants and the tailnet policy; "" reads only keyless's. */
  aperture_capability: z.string().default(APERTURE_CAPABILITY),
  /** Set to false to take grants only from the tailnet policy (WhoIs CapMap). */
  config_grants: z.boolean().default(true),
  providers: z.record(ProviderName, ProviderConfig).default({}),
  grants: z.array(Grant).default([]),
  /** Model aliases: "claude-sonnet" → "claude-sonnet-4-6". Grants match the alias and the model it resolves to. */
  aliases: AliasesConfig.default({}),
  /** Ordered fallback targets per model, across providers and keys (docs/routing.md). */
  routes: RoutesConfig.default({}),
  routing: RoutingConfig.default(DEFAULT_ROUTING),
  /** Aperture's name for config grants (its default config uses it): evaluated exactly like `grants`. */
  temp_grants: z.array(Grant).default([]),
  /** Aperture sections keyless accepts and does not act on (warned about at load; docs/aperture.md says why). */
  exporters: z.unknown().optional(),
  model_cost_map: z.unknown().optional(),
  auto_cost_basis: z.unknown().optional(),
  connectors: z.unknown().optional(),
  mcp: z.unknown().optional(),
  flags: z.unknown().optional(),
  database: DatabaseConfig.prefault({}),
  limits: LimitsConfig.default({ max_body: 32 * 1024 * 1024, upstream_timeout: 600_000 }),
  /** Per-model price overrides, keyed "provider/model" (provider = config name). */
  prices: z.record(z.string(), PriceOverride).default({}),
  /** CI sessions (Actions OIDC → repository → tailnet tags) and check runs; absent: the CI routes answer 404. */
  github: GitHubConfig.optional(),
  /** Tool-call guardrails: rule catalog overrides and whether catalog "block" actions apply to everyone. */
  guardrails: GuardrailsConfig.default(() => GuardrailsConfig.parse({})),
  /** Webhooks by name (Aperture's hooks protocol, Standard Webhooks signatures); grants pick them with send_hooks. */
  hooks: HooksConfig.default({}),
  /** Dollar token buckets keyed by bucket-name template; grants attach them with `quotas: [{bucket}]`. */
  quotas: QuotasConfig.default({}),
  /** Requests, tokens per window and concurrent requests, keyed by bucket-name template; grants attach them. */
  rate_limits: RateLimitsConfig.default({}),
  quota_estimate: QuotaEstimateConfig.default(DEFAULT_QUOTA_ESTIMATE),
  /** Where bucket balances live: the gateway's SQLite file, or PostgreSQL shared by every replica. */
  quota_store: QuotaStoreConfig.default({ type: "sqlite" }),
  /** For `keyless policy render`: the gateway's tag and the owners of the tags grants name. */
  tailnet_policy: TailnetPolicyConfig.optional(),
  /** OpenTelemetry traces and metrics over OTLP (docs/deploy.md); absent: off. */
  telemetry: TelemetryConfig.optional(),
  /** Usage rows (and captures) to S3-compatible storage as gzip JSON Lines, each row once (docs/deploy.md). */
  export: ExportConfig.optional(),
}).superRefine((config, ctx) => {
  checkGrantValues(config, ctx);
  checkQuotaReferences(config, ctx);
  checkRouting(config, ctx);
  checkRateLimitReferences(config, ctx);
});
export type Config = z.infer<typeof Config>;
export type ConfigInput = z.input<typeof Config>;
