// How long request captures are kept. keyless's form is a duration ("30d"; "" keeps them forever); Aperture's is
// `{duration, purge, require_export}` ("0" keeps nothing). Both read to one meaning here; the store only purges.
import { z } from "zod";
import { parseDuration } from "./units.js";

export interface Retention {
  /** Captures older than this many milliseconds are purged; null keeps them forever. */
  readonly afterMs: number | null;
  /** As written, for logs. */
  readonly text: string;
}

const FOREVER: Retention = { afterMs: null, text: "forever" };

function durationOf(text: string, ctx: z.RefinementCtx): Retention {
  if (text === "") return FOREVER;
  if (text.trim() === "0") return { afterMs: 0, text: "0 (keep nothing)" };
  const ms = parseDuration(text);
  if (ms === null) {
    ctx.addIssue({ code: "custom", message: `expected a duration such as "30d" or "720h", "" (forever) or "0" (keep nothing), got "${text}"` });
    return z.NEVER;
  }
  return { afterMs: ms, text };
}

/** Aperture's object form. `purge` of "tools" and `require_export` are accepted; what keyless does with them is below. */
export const ApertureRetention = z.strictObject({
  duration: z.string().default(""),
  purge: z.array(z.enum(["captures", "tools"])).optional(),
  require_export: z.boolean().optional(),
});

export const RetentionConfig = z.union([z.string(), ApertureRetention]).transform((value, ctx): Retention => {
  if (typeof value === "string") return durationOf(value, ctx);
  // keyless has no exporter: "purge only what was exported" purges nothing, so nothing unexported is ever lost.
  if (value.require_export === true) return FOREVER;
  return durationOf(value.duration, ctx);
});
