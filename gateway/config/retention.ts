// How long request captures are kept. keyless's form is a duration ("30d"; "" keeps them forever); Aperture's is
// `{duration, purge, require_export}` ("0" keeps nothing). Both read to one meaning here; the store only purges.
import { z } from "zod";
import { parseDuration } from "./units.js";

export interface Retention {
  /** Captures older than this many milliseconds are purged; null keeps them forever. */
  readonly afterMs: number | null;
  /** As written, for logs. */
  readonly text: string;
  /** Aperture's require_export: a capture is purged only once its request has been exported (`export`). */
  readonly requireExport: boolean;
}

const FOREVER: Retention = { afterMs: null, text: "forever", requireExport: false };

function durationOf(text: string, ctx: z.RefinementCtx): Retention {
  if (text === "") return FOREVER;
  if (text.trim() === "0") return { afterMs: 0, text: "0 (keep nothing)", requireExport: false };
  const ms = parseDuration(text);
  if (ms === null) {
    ctx.addIssue({ code: "custom", message: `expected a duration such as "30d" or "720h", "" (forever) or "0" (keep nothing), got "${text}"` });
    return z.NEVER;
  }
  return { afterMs: ms, text, requireExport: false };
}

/** Aperture's object form. `purge` of "tools" is accepted and ignored (tool-call rows are kept). */
export const ApertureRetention = z.strictObject({
  duration: z.string().default(""),
  purge: z.array(z.enum(["captures", "tools"])).optional(),
  require_export: z.boolean().optional(),
});

export const RetentionConfig = z.union([z.string(), ApertureRetention]).transform((value, ctx): Retention => {
  if (typeof value === "string") return durationOf(value, ctx);
  const retention = durationOf(value.duration, ctx);
  // Without an `export` section nothing is ever exported, so then nothing is purged (effectiveRetention).
  return value.require_export === true ? { ...retention, requireExport: true } : retention;
});

/** What retention does given whether an export runs: require_export without an export purges nothing, ever. */
export function effectiveRetention(retention: Retention, exporting: boolean): Retention {
  return retention.requireExport && !exporting ? FOREVER : retention;
}
