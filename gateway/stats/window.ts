// The time window of a stats answer: from the viewer's range or from/to, cut into slots of one step. Slots are aligned
// to the step in UTC (a day slot starts at midnight UTC), so two viewers with the same choice see the same slots.
import { MAX_POINTS, MAX_RANGE_MS, RANGES, STEPS, type StatsQuery } from "../ui/schemas/stats.js";

export interface Window {
  readonly from: number;
  readonly to: number;
  readonly step: number;
  /** Start of the first slot (≤ from). */
  readonly first: number;
  /** Every slot's start. */
  readonly times: readonly number[];
}

/** Auto steps aim at a readable number of points: 24h by the hour, 7 days by 6 hours, 30 days by the day. */
const AUTO_POINTS = 60;

export function statsWindow(q: StatsQuery, now: number): Window | { error: string } {
  const to = q.to ?? now;
  const from = q.from ?? to - RANGES[q.range ?? "24h"];
  if (from >= to) return { error: "from must be before to" };
  if (to - from > MAX_RANGE_MS) return { error: `a range spans at most ${MAX_RANGE_MS / 86_400_000} days` };
  const steps = Object.values(STEPS);
  const step = q.step ? STEPS[q.step] : (steps.find((s) => (to - from) / s <= AUTO_POINTS) ?? steps.at(-1)!);
  const first = Math.floor(from / step) * step;
  const count = Math.ceil((to - first) / step);
  if (count > MAX_POINTS) return { error: `${count} points at step ${q.step}: at most ${MAX_POINTS} (pick a longer step)` };
  return { from, to, step, first, times: Array.from({ length: count }, (_, i) => first + i * step) };
}

/** The slot a time falls in. */
export const slotOf = (w: Window, ts: number) => Math.floor((ts - w.first) / w.step);

/** One zero per slot. */
export const zeros = (w: Window) => w.times.map(() => 0);
