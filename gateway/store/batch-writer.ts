// Collects rows in memory and writes them in transactions off the response path. Rows wait at most `intervalMs`, so
// a SIGKILL loses at most that much; a tick writes at most `slice` rows per transaction and yields to the event loop
// between slices, so a busy tick never stalls the streams in flight for more than a few milliseconds. Writes are
// asynchronous (a PostgreSQL round trip), one at a time, so rows commit in the order they were queued.

export interface BatchWriterOptions<T> {
  readonly write: (rows: readonly T[]) => Promise<void>;
  readonly intervalMs?: number;
  /** Rows per transaction. */
  readonly slice?: number;
  /** Rows kept while the store refuses writes; beyond it the oldest are dropped. */
  readonly maxPending?: number;
  readonly onError?: (err: unknown, rows: readonly T[]) => void;
}

export class BatchWriter<T> {
  private rows: T[] = [];
  private timer: NodeJS.Timeout | null = null;
  private draining: Promise<void> | null = null;
  private failing = false;
  private readonly intervalMs: number;
  private readonly slice: number;
  private readonly maxPending: number;

  constructor(private readonly options: BatchWriterOptions<T>) {
    this.intervalMs = options.intervalMs ?? 200;
    this.slice = options.slice ?? 64;
    this.maxPending = options.maxPending ?? 50_000;
  }

  add(row: T): void {
    this.rows.push(row);
    if (!this.draining) this.timer ??= setTimeout(() => void this.drain(), this.intervalMs);
  }

  get pending(): number {
    return this.rows.length;
  }

  /** Writes everything queued now (shutdown, tests); rows the store refuses stay queued for a later tick. */
  async flush(): Promise<void> {
    this.clearTimer();
    if (this.draining) await this.draining;
    while (this.rows.length > 0 && (await this.writeSlice())) {
      // keep writing
    }
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** One slice per turn of the event loop until the queue is empty. */
  private drain(): Promise<void> {
    this.clearTimer();
    this.draining ??= (async () => {
      try {
        while (this.rows.length > 0) {
          if (!(await this.writeSlice())) return;
          await new Promise((resolve) => setImmediate(resolve));
        }
      } finally {
        this.draining = null;
      }
    })();
    return this.draining;
  }

  /** Writes one slice; on failure keeps the rows and retries later. Returns whether the write succeeded. */
  private async writeSlice(): Promise<boolean> {
    const rows = this.rows.splice(0, this.slice);
    try {
      await this.options.write(rows);
      this.failing = false;
      return true;
    } catch (err) {
      // A locked or unavailable database: keep the rows for a later tick, bounded so memory stays flat.
      if (!this.failing) this.options.onError?.(err, rows);
      this.failing = true;
      this.rows.unshift(...rows);
      if (this.rows.length > this.maxPending) this.rows.splice(0, this.rows.length - this.maxPending);
      this.timer ??= setTimeout(() => void this.drain(), this.intervalMs * 5);
      return false;
    }
  }
}
