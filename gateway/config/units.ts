// Parsers for the human units the config accepts: dollars, sizes and durations.
import { z } from "zod";

export const NANOS_PER_DOLLAR = 1_000_000_000;

/** "$10.00" → 10_000_000_000 nanodollars. Exact decimal arithmetic, no floats. */
export function parseDollars(text: string): number | null {
  const m = /^\$(\d+)(?:\.(\d{1,9}))?$/.exec(text.trim());
  if (!m) return null;
  const whole = Number(m[1]);
  const frac = Number((m[2] ?? "").padEnd(9, "0"));
  const nanos = whole * NANOS_PER_DOLLAR + frac;
  return Number.isSafeInteger(nanos) ? nanos : null;
}

export const Dollars = z.string().transform((s, ctx) => {
  const n = parseDollars(s);
  if (n === null) {
    ctx.addIssue({ code: "custom", message: `expected a dollar amount such as "$10.00", got "${s}"` });
    return z.NEVER;
  }
  return n;
});

const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };

export function parseSize(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  if (!m) return null;
  const unit = SIZE_UNITS[(m[2] || "b").toLowerCase()];
  return unit === undefined ? null : Math.floor(Number(m[1]) * unit);
}

export const Size = z.union([z.number().int().nonnegative(), z.string()]).transform((v, ctx) => {
  const n = typeof v === "number" ? v : parseSize(v);
  if (n === null) {
    ctx.addIssue({ code: "custom", message: `expected a size such as "1MiB", got "${String(v)}"` });
    return z.NEVER;
  }
  return n;
});

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1e3, m: 60e3, min: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3 };

/** "30d", "720h", "5s", "250ms" → milliseconds. */
export function parseDuration(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|min|h|d|w)$/.exec(text.trim());
  if (!m) return null;
  return Math.round(Number(m[1]) * (DURATION_UNITS[m[2]!] ?? NaN));
}

export const Duration = z.string().transform((s, ctx) => {
  const n = parseDuration(s);
  if (n === null) {
    ctx.addIssue({ code: "custom", message: `expected a duration such as "30d", "5s" or "250ms", got "${s}"` });
    return z.NEVER;
  }
  return n;
});

/** Formats nanodollars as "$1.234567" with trailing zeros trimmed to at least cents. */
export function formatDollars(nanos: number): string {
  const sign = nanos < 0 ? "-" : "";
  const abs = Math.abs(nanos);
  const whole = Math.floor(abs / NANOS_PER_DOLLAR);
  let frac = String(abs % NANOS_PER_DOLLAR).padStart(9, "0").replace(/0+$/, "");
  if (frac.length < 2) frac = frac.padEnd(2, "0");
  return `${sign}$${whole}.${frac}`;
}
