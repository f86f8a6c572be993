// Guardrails: overrides of the built-in rule catalog, and whether the catalog's own "block" actions apply.
// Grants may set actions per rule id, category or "default" (GrantValue.guardrails); those always apply.
import { z } from "zod";
import { RuleOverrides, defaultCatalog, loadRules } from "../guardrails/rules/index.js";
import { GuardrailAction } from "./grants.js";

export const SecretsConfig = z.strictObject({
  /** Scan requests (what the agent sends) and tool-call arguments (what the model returns) for credentials. */
  enabled: z.boolean().default(true),
  /** What a secret rule does unless a grant or `rules` says otherwise: redact keeps the agent working. */
  action: GuardrailAction.default("redact"),
  /** Per-rule actions (`secret.github-pat`, `secret.scan-incomplete`, …). */
  rules: z.record(z.string().regex(/^secret\.[a-z0-9-]+$/), GuardrailAction).default({}),
  /**
   * Key of the HMAC that fingerprints secrets. Without one, a random key per process: fingerprints then link
   * calls within a run of the gateway but not across restarts or replicas.
   */
  fingerprint_key: z.string().min(16).optional(),
  /** CPU time one request's scan may take (the rest is then unscanned: `secret.scan-incomplete`; guardrails/time-limit.ts). */
  scan_ms: z.number().int().positive().max(5000).default(250),
});
export type SecretsConfig = z.infer<typeof SecretsConfig>;

export const GuardrailsConfig = z
  .strictObject({
    /**
     * Apply the catalog's "block" actions (critical and high severity rules) to every caller. Off (the default), those
     * findings are flagged, and only grants that ask for "block" block — so responses pass through untouched.
     */
    enforce: z.boolean().default(false),
    /** Catalog changes: `{rules: [...added or replaced], disable: [ids], set: {id: {severity, action}}, patterns}`. */
    rules: RuleOverrides.default({}),
    /** MCP server names, to split Gemini CLI's ambiguous `mcp_<server>_<tool>` tool names. */
    mcp_servers: z.array(z.string().min(1)).default([]),
    /** Credentials in traffic (docs/guardrails.md, "Secrets in traffic"). */
    secrets: SecretsConfig.default(SecretsConfig.parse({})),
  })
  .superRefine((g, ctx) => {
    try {
      loadRules(defaultCatalog(), g.rules);
    } catch (err) {
      ctx.addIssue({ code: "custom", path: ["rules"], message: (err as Error).message });
    }
  });
export type GuardrailsConfig = z.infer<typeof GuardrailsConfig>;
