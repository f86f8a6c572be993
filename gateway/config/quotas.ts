// The `quotas` config section: dollar token buckets keyed by bucket-name template (Aperture's shape), and the settings
// that size a request's reservation. A grant's `{ "bucket": "daily:<user>" }` names the quota whose key is exactly
// "daily:<user>"; the template is expanded per request into the concrete bucket that is charged.
import { z } from "zod";
import { GrantValue, type GrantsView, configGrantValues } from "./grants.js";
import { Dollars, Duration, parseDollars } from "./units.js";

/** Templates a bucket name may use, and what they expand to (see quotas/buckets.ts expandBucket). */
export const BUCKET_TEMPLATES = ["user", "node", "repo", "pr", "workflow", "run"] as const;
export type BucketTemplate = (typeof BUCKET_TEMPLATES)[number];

const RATE_PERIODS: Readonly<Record<string, number>> = {
  min: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
  week: 7 * 86_400_000,
  // Aperture's month is 30 days.
  month: 30 * 86_400_000,
};

export interface Rate {
  /** Nanodollars added per period. */
  readonly nanos: number;
  readonly periodMs: number;
  /** As written, e.g. "$5.00/day". */
  readonly text: string;
}

export function parseRate(text: string): Rate | null {
  const m = /^(.+)\/(min|hour|day|week|month)$/.exec(text.trim());
  if (!m) return null;
  const nanos = parseDollars(m[1]!);
  const periodMs = RATE_PERIODS[m[2]!];
  return nanos === null || periodMs === undefined ? null : { nanos, periodMs, text: text.trim() };
}

const RateSchema = z.string().transform((s, ctx): Rate => {
  const rate = parseRate(s);
  if (!rate) {
    ctx.addIssue({ code: "custom", message: `expected a refill rate such as "$5.00/day" (min, hour, day, week, month), got "${s}"` });
    return z.NEVER;
  }
  return rate;
});

/** Problems with a bucket-name template: unknown `<placeholders>`, stray angle brackets. */
export function templateProblems(name: string): string[] {
  const problems: string[] = [];
  for (const [, key] of name.matchAll(/<([^<>]*)>/g)) {
    if (!(BUCKET_TEMPLATES as readonly string[]).includes(key!)) {
      problems.push(`unknown template <${key}> (known: ${BUCKET_TEMPLATES.map((t) => `<${t}>`).join(", ")})`);
    }
  }
  if (/[<>]/.test(name.replace(/<[^<>]*>/g, ""))) problems.push("unbalanced < or >");
  return problems;
}


export const QuotaDefinition = z.strictObject({
  /** The most a bucket holds, and its starting balance. "$0.00" refuses every request that costs anything. */
  capacity: Dollars,
  /** Refill speed; "$0.00/day" never refills (admins refill through the API). */
  rate: RateSchema,
  /** Only "reject" (HTTP 429 with Retry-After), as in Aperture. */
  on_exceed: z.literal("reject").default("reject"),
  /**
   * When a request may start. "reserve" (keyless): the bucket must hold the request's worst-case cost, which it holds
   * until the answer settles it, so concurrent requests overspend by at most their estimation error. "positive"
   * (Aperture): a positive balance is enough and the cost is debited afterwards, so a bucket can go below zero by the
   * cost of every request admitted while it was positive (docs/budgets.md, docs/aperture.md).
   */
  admission: z.enum(["reserve", "positive"]).default("reserve"),
  /**
   * Percentages of the capacity spent that fire a `budget_alert` webhook event, each at most once per refill period
   * (the time `rate` takes to refill the capacity), and show in the CI session's check run and job summary.
   */
  alerts: z.array(z.number().int().min(1).max(100)).max(10).default([]),
});
export type QuotaDefinition = z.infer<typeof QuotaDefinition>;

export const QuotasConfig = z
  .record(z.string(), QuotaDefinition)
  // Checked here rather than as a record key schema so the message names the key.
  .superRefine(
    (quotas, ctx) => {
      for (const name of Object.keys(quotas)) {
        const problems = name === "" || name.length > 200 ? ["bucket names are 1 to 200 characters"] : templateProblems(name);
        for (const message of problems) ctx.addIssue({ code: "custom", path: [name], message });
      }
    },
    // Report bad names alongside bad definitions, not only once those are fixed.
    { when: (payload) => typeof payload.value === "object" && payload.value !== null },
  );
export type QuotasConfig = z.infer<typeof QuotasConfig>;

/** How a request's reservation is sized before it is forwarded (quotas/estimate.ts). */
export const QuotaEstimateConfig = z.strictObject({
  /**
   * Request-body bytes per input token assumed for the reservation. Tokenizers average 3–4 bytes per token on agent
   * traffic (JSON, code, English), so 2 stays above the real count; 1 is a strict bound for any text.
   */
  bytes_per_token: z.number().positive().default(2),
  /** Output tokens reserved when a request sets no max_tokens / max_output_tokens (the estimate is then flagged). */
  uncapped_output_tokens: z.number().int().positive().default(32_000),
  /** Dollars per million tokens reserved for models without a known price (their cost is then the reservation). */
  unknown_price: z
    .strictObject({ input: z.number().nonnegative(), output: z.number().nonnegative() })
    .default({ input: 15, output: 75 }),
  /**
   * Input tokens assumed per model call when part of the input is not in the body (media by URL or file id, stored
   * conversations and prompts, cached content, server-tool results) and the price table does not know the model's
   * context window.
   */
  context_tokens: z.number().int().positive().default(1_000_000),
  /** Server-tool calls assumed when the request does not cap them (max_uses, max_tool_calls). */
  server_tool_calls: z.number().int().nonnegative().default(10),
  /** Tokens of results each server-tool call is assumed to add to the context (OpenAI bills searches in 8k blocks). */
  server_tool_result_tokens: z.number().int().nonnegative().default(10_000),
  /**
   * Fee reserved and charged per server-tool call when the price table lists none for the model (it lists Anthropic's
   * and OpenAI's web search, $10 per 1,000): Gemini grounding's $35 per 1,000, the dearest.
   */
  server_tool_fee: Dollars.default(35_000_000),
  /** Price factor of a premium service tier (OpenAI "priority" is 1.7–2× the list price). */
  premium_tier_multiplier: z.number().min(1).default(2),
  /**
   * How long an upstream answer is still read after its client disconnected, so the request is charged its actual
   * usage; past it (or past limits.max_body) the request is charged its reservation.
   */
  read_after_disconnect: Duration.default(120_000),
});
export type QuotaEstimateConfig = z.infer<typeof QuotaEstimateConfig>;
export const DEFAULT_QUOTA_ESTIMATE: QuotaEstimateConfig = {
  bytes_per_token: 2,
  uncapped_output_tokens: 32_000,
  unknown_price: { input: 15, output: 75 },
  context_tokens: 1_000_000,
  server_tool_calls: 10,
  server_tool_result_tokens: 10_000,
  server_tool_fee: 35_000_000,
  premium_tier_multiplier: 2,
  read_after_disconnect: 120_000,
};

/** Config grants whose quotas name a bucket no `quotas` entry defines ("quotas references undefined quota"). */
export function checkQuotaReferences(config: GrantsView & { readonly quotas: QuotasConfig }, ctx: z.RefinementCtx): void {
  for (const { path, raw } of configGrantValues(config)) {
    const value = GrantValue.safeParse(raw);
    if (!value.success) continue;
    value.data.quotas?.forEach((ref, k) => {
      const at = [...path, "quotas", k];
      for (const [name, where] of [[ref.bucket, [...at, "bucket"]], ...(ref.overdraft ?? []).map((o, n) => [o, [...at, "overdraft", n]] as const)] as const) {
        if (config.quotas[name] === undefined) ctx.addIssue({ code: "custom", path: [...where], message: `quotas references undefined quota "${name}"` });
      }
    });
  }
}
