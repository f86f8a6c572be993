// Shell analysis entry point: one script in, the simple commands it would run out.
import { Budget, LimitExceeded, type WalkLimits } from "./budget.js";
import type { TimeLimit } from "../bounds/time-limit.js";
import type { SimpleCommand } from "./types.js";
import { ShellWalker } from "./walk.js";

export type { Marker, SimpleCommand, RedirectInfo, InlineCode } from "./types.js";
export type { WalkLimits } from "./budget.js";
export { normalizePath } from "./effects.js";

export interface ShellAnalysis {
  readonly commands: readonly SimpleCommand[];
  /** Parse errors; the commands found so far are still reported. */
  readonly problems: readonly string[];
  /** Analysis bounds that were reached: the script was not analysed completely, so what it runs is unknown. */
  readonly limits: readonly string[];
}

/**
 * Far above what agents' commands need (every labelled corpus command fits in a tenth of the sizes and steps; see
 * test/guardrails/bounds.test.ts), far below what stalls the gateway: the doubling and nesting bombs stop within a millisecond or two, anything else by maxMillis of CPU time.
 */
export const DEFAULT_LIMITS: WalkLimits = {
  maxDepth: 8,
  maxCommands: 400,
  maxSource: 100_000,
  maxNesting: 32,
  maxValue: 100_000,
  maxBytes: 1024 * 1024,
  maxSteps: 50_000,
  maxMillis: 25,
};

/** `within` (a response's overall limit) ends the analysis earlier than `limits.maxMillis` would. */
export function analyzeShell(script: string, limits: WalkLimits = DEFAULT_LIMITS, within?: TimeLimit): ShellAnalysis {
  const budget = new Budget(limits, within);
  const walker = new ShellWalker(budget);
  const stopped: string[] = [];
  try {
    budget.clock();
    walker.source(script);
  } catch (err) {
    if (!(err instanceof LimitExceeded)) throw err;
    stopped.push(err.message);
  }
  return { commands: walker.commands, problems: walker.problems, limits: [...budget.notes, ...stopped] };
}
