// The stats API's query and answer, shared by the gateway (gateway/stats, gateway/api/stats.ts) and the UI's chart
// script (gateway/ui/client/charts.ts): zod only, so the browser bundle pulls in nothing from Node.
import * as z from "zod";

export const RANGES: Readonly<Record<"24h" | "7d" | "30d", number>> = { "24h": 86_400_000, "7d": 7 * 86_400_000, "30d": 30 * 86_400_000 };
export const STEPS: Readonly<Record<"5m" | "1h" | "6h" | "1d", number>> = { "5m": 300_000, "1h": 3_600_000, "6h": 21_600_000, "1d": 86_400_000 };
export const GROUPS = ["model", "principal", "repository", "pr"] as const;
export const TOOL_KINDS = ["shell", "mcp", "file_edit", "function"] as const;

/** Bounds that keep every answer small whatever the store holds. */
export const MAX_POINTS = 400;
export const MAX_SERIES = 8;
export const MAX_PROGRAMS = 15;
export const MAX_RANGE_MS = 366 * 86_400_000;

/** Epoch milliseconds or an ISO time. */
const Instant = z.string().transform((s, ctx) => {
  const ms = /^\d+$/.test(s) ? Number(s) : Date.parse(s);
  if (!Number.isFinite(ms)) {
    ctx.addIssue({ code: "custom", message: `expected an ISO time or epoch milliseconds, got "${s}"` });
    return z.NEVER;
  }
  return ms;
});

/** What the viewer picked (query string of /ui/ and /api/stats); empty values mean "not set". */
export const StatsQuery = z.preprocess(
  (q) => Object.fromEntries(Object.entries(q as Record<string, string>).filter(([, v]) => v !== "")),
  z.strictObject({
    range: z.enum(["24h", "7d", "30d"]).optional(),
    from: Instant.optional(),
    to: Instant.optional(),
    step: z.enum(["5m", "1h", "6h", "1d"]).optional(),
    group: z.enum(GROUPS).optional(),
    principal: z.string().optional(),
    repository: z.string().optional(),
    pr: z.coerce.number().int().positive().optional(),
  }),
);
export type StatsQuery = z.infer<typeof StatsQuery>;

const Values = z.array(z.number());
const Nullable = z.array(z.number().nullable());

export const StatsResponse = z.object({
  from: z.number(),
  to: z.number(),
  step_ms: z.number(),
  group: z.enum(GROUPS),
  /** Slot starts (epoch ms): every series has one value per slot. */
  times: z.array(z.number()),
  /** Spend and tokens per group key, the most expensive first; the rest summed into `other`. */
  spend: z.object({
    series: z.array(z.object({ key: z.string(), cost_nanos: Values, tokens: Values })),
    other: z.object({ keys: z.number(), cost_nanos: Values, tokens: Values }).nullable(),
  }),
  requests: z.object({ requests: Values, errors: Values, denials: Values }),
  tool_calls: z.array(z.object({ kind: z.string(), calls: Values })),
  /** Programs the shell commands ran (parsed, so `cd x && npm test` counts cd and npm), most frequent first. */
  programs: z.array(z.object({ program: z.string(), count: z.number() })),
  findings: z.array(z.object({ category: z.string(), counts: Values })),
  /** Each bucket's balance at the end of each slot, rebuilt from its capacity, refill rate and recorded charges. */
  budgets: z.array(
    z.object({
      bucket: z.string(),
      quota: z.string(),
      capacity_nanos: z.number(),
      rate: z.string(),
      charged_nanos: Values,
      balance_nanos: Nullable,
    }),
  ),
});
export type StatsResponse = z.infer<typeof StatsResponse>;
