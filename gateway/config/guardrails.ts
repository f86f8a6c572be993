// Guardrails: overrides of the built-in rule catalog, and whether the catalog's own "block" actions apply.
// Grants may set actions per rule id, category or "default" (GrantValue.guardrails); those always apply.
import { z } from "zod";
import { RuleOverrides, defaultCatalog, loadRules } from "../guardrails/rules/index.js";

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
  })
  .superRefine((g, ctx) => {
    try {
      loadRules(defaultCatalog(), g.rules);
    } catch (err) {
      ctx.addIssue({ code: "custom", path: ["rules"], message: (err as Error).message });
    }
  });
export type GuardrailsConfig = z.infer<typeof GuardrailsConfig>;
