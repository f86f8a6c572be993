// The time bounds on guardrail work (a script's analysis, a response's analyses, a request's secret scan) count the CPU
// time the gateway spends, not the wall clock: on a busy host the process is preempted, and a wall-clock bound would
// then call a harmless command "not analysed" (blocked where guardrails block) because of someone else's load. The
// wall clock is read first (cheap); CPU time (a system call) only once the wall clock says the limit passed.
// A wall-clock backstop still bounds how long one analysis may hold the event loop, however starved the process.

/** How many times the limit, in wall-clock time, the work may take when the process is starved of CPU. */
const WALL_BACKSTOP = 20;

/**
 * This thread's CPU time where Node can tell it (process.threadCpuUsage, Node ≥ 23.9), so a log writer or GC thread
 * busy meanwhile does not spend the analysis's bound; on Node 20 the process's (all its threads).
 */
const threadCpu = (process as { threadCpuUsage?: () => NodeJS.CpuUsage }).threadCpuUsage?.bind(process) ?? (() => process.cpuUsage());

/** Milliseconds of CPU time used (this thread where Node can tell, else the process). */
export const cpuMs = (): number => {
  const { user, system } = threadCpu();
  return (user + system) / 1000;
};

export class TimeLimit {
  private readonly startCpu: number;
  private readonly backstop: number;
  /** The next wall-clock time at which the limit could have been spent. */
  private checkAt: number;
  private over = false;

  /** `ms` of CPU time from now; 0 or less: already spent. */
  constructor(readonly ms: number) {
    const now = performance.now();
    this.startCpu = ms > 0 ? cpuMs() : 0;
    this.checkAt = now + ms;
    this.backstop = now + Math.max(0, ms) * WALL_BACKSTOP;
    this.over = ms <= 0;
  }

  /** A limit that never passes (tests of everything but time; offline tools). */
  static readonly NONE = new TimeLimit(Number.POSITIVE_INFINITY);

  /** Whether the limit is spent. Once it is, it stays so. */
  passed(): boolean {
    if (this.over) return true;
    const now = performance.now();
    if (now <= this.checkAt) return false;
    const spent = cpuMs() - this.startCpu;
    if (spent >= this.ms || now > this.backstop) return (this.over = true);
    this.checkAt = now + (this.ms - spent);
    return false;
  }

  /** The stricter of this limit and a new one of `ms` from now (a script's own bound inside a response's). */
  within(ms: number): TimeLimit {
    return this.over ? this : new NestedLimit(ms, this);
  }
}

class NestedLimit extends TimeLimit {
  constructor(
    ms: number,
    private readonly outer: TimeLimit,
  ) {
    super(ms);
  }

  override passed(): boolean {
    return this.outer.passed() || super.passed();
  }
}
