// Shell analysis entry point: one script in, the simple commands it would run out.
import type { SimpleCommand } from "./types.js";
import { ShellWalker, type WalkLimits } from "./walk.js";

export type { Marker, SimpleCommand, RedirectInfo, InlineCode } from "./types.js";
export { normalizePath } from "./effects.js";

export interface ShellAnalysis {
  readonly commands: readonly SimpleCommand[];
  /** Parse errors and analysis limits hit; the commands found so far are still reported. */
  readonly problems: readonly string[];
}

export const DEFAULT_LIMITS: WalkLimits = { maxDepth: 8, maxCommands: 400, maxSource: 100_000 };

export function analyzeShell(script: string, limits: WalkLimits = DEFAULT_LIMITS): ShellAnalysis {
  const walker = new ShellWalker(limits);
  walker.source(script);
  return { commands: walker.commands, problems: walker.problems };
}
