// The `rate_limits` config section: request, token and concurrency limits keyed by bucket-name template (the same
// templates as dollar quotas: <user>, <repo>, <pr>, …); grants attach them with `rate_limits: [{bucket}]`.
import { z } from "zod";
import { GrantValue } from "./grants.js";
import { templateProblems } from "./quotas.js";
import { Duration } from "./units.js";

export const RateLimitDefinition = z
  .strictObject({
    /** Requests allowed per `per` (a token bucket: this many at once, refilled evenly over `per`). */
    requests: z.number().int().positive().optional(),
    /** Input + output tokens allowed per `per`; a request holds its estimate until its usage is known. */
    tokens: z.number().int().positive().optional(),
    /** The window `requests` and `tokens` are counted over: "1m" is per minute. */
    per: Duration.default(60_000),
    /** Requests in flight at once. */
    concurrent: z.number().int().positive().optional(),
  })
  .refine((d) => d.requests !== undefined || d.tokens !== undefined || d.concurrent !== undefined, "set requests, tokens or concurrent");
export type RateLimitDefinition = z.infer<typeof RateLimitDefinition>;

export const RateLimitsConfig = z.record(z.string(), RateLimitDefinition).superRefine(
  (limits, ctx) => {
    for (const name of Object.keys(limits)) {
      const problems = name === "" || name.length > 200 ? ["bucket names are 1 to 200 characters"] : templateProblems(name);
      for (const message of problems) ctx.addIssue({ code: "custom", path: [name], message });
    }
  },
  { when: (payload) => typeof payload.value === "object" && payload.value !== null },
);
export type RateLimitsConfig = z.infer<typeof RateLimitsConfig>;

interface GrantsView {
  readonly capability: string;
  readonly grants: readonly { readonly app: Readonly<Record<string, readonly unknown[]>> }[];
  readonly rate_limits: RateLimitsConfig;
}

/** Config grants whose rate_limits name a limit no `rate_limits` entry defines. */
export function checkRateLimitReferences(config: GrantsView, ctx: z.RefinementCtx): void {
  config.grants.forEach((grant, i) => {
    (grant.app[config.capability] ?? []).forEach((raw, j) => {
      const value = GrantValue.safeParse(raw);
      value.data?.rate_limits?.forEach((ref, k) => {
        if (config.rate_limits[ref.bucket] === undefined) {
          ctx.addIssue({ code: "custom", path: ["grants", i, "app", config.capability, j, "rate_limits", k, "bucket"], message: `rate_limits references undefined limit "${ref.bucket}"` });
        }
      });
    });
  });
}
