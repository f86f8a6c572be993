// What analysing one script may cost. A model writes the scripts, so every expansion is counted (value sizes,
// characters built, steps, depth, CPU time); past a bound the script is "not fully analysed", never "safe".

import { TimeLimit } from "../bounds/time-limit.js";

export interface WalkLimits {
  /** Nested programs (bash -c inside eval inside a here-doc …) followed at most this deep. */
  readonly maxDepth: number;
  readonly maxCommands: number;
  /** Longer scripts are analysed up to this many characters. */
  readonly maxSource: number;
  /**
   * Brackets nested deeper than this are not parsed: the parser re-reads a substitution's text once per level it is
   * nested in, so a deep script costs its length times its depth.
   */
  readonly maxNesting: number;
  /** A word, variable or decoded value longer than this is unknown (`a=$a$a` stops doubling here). */
  readonly maxValue: number;
  /** Characters parsed and built (words, substituted values, nested programs) over the whole script. */
  readonly maxBytes: number;
  /** Statements, words and word parts visited. */
  readonly maxSteps: number;
  /** CPU time for the script (time-limit.ts); the last resort, checked every 256 steps. */
  readonly maxMillis: number;
}

/** A hard bound was reached: the walk stops here; what was found so far is still reported. */
export class LimitExceeded extends Error {}

const TIME_CHECK_EVERY = 256;

export class Budget {
  /** Soft bounds hit (a value made unknown, a nested program skipped): the walk went on without them. */
  readonly notes = new Set<string>();
  private steps = 0;
  private bytes = 0;
  private sinceClock = 0;
  private readonly time: TimeLimit;

  /** `within` (a response's overall limit) caps the script's time further. */
  constructor(
    readonly limits: WalkLimits,
    within: TimeLimit = TimeLimit.NONE,
  ) {
    this.time = within.within(limits.maxMillis);
  }

  step(): void {
    if (++this.steps > this.limits.maxSteps) throw new LimitExceeded(`analysis stopped after ${this.limits.maxSteps} steps`);
    if (++this.sinceClock < TIME_CHECK_EVERY) return;
    this.sinceClock = 0;
    this.clock();
  }

  /** Counts characters parsed or built. */
  spend(chars: number): void {
    this.bytes += chars;
    if (this.bytes > this.limits.maxBytes) throw new LimitExceeded(`analysis stopped after building ${this.limits.maxBytes} characters`);
  }

  clock(): void {
    if (this.time.passed()) throw new LimitExceeded("analysis stopped at its time limit");
  }

  /** Whether a value may be kept; a longer one is noted and treated as unknown. */
  fits(length: number): boolean {
    if (length <= this.limits.maxValue) return true;
    this.notes.add(`a value longer than ${this.limits.maxValue} characters was treated as unknown`);
    return false;
  }
}
