// Collects rows in memory and writes them in transactions off the response path. Rows wait at most `intervalMs`, so
// a SIGKILL loses at most that much; a tick writes at most `slice` rows per transaction and yields to the event loop
// between slices, so a busy tick never stalls the streams in flight for more than a few milliseconds.

export interface BatchWriterOptions<T> {
  readonly write: (rows: readonly T[]) => void;
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
  private draining = false;
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
    if (!this.draining) this.timer ??= setTimeout(() => this.drain(), this.intervalMs);
  }

  get pending(): number {
    return this.rows.length;
  }

  /** Writes everything queued now, synchronously (shutdown, tests). */
  flush(): void {
    this.clearTimer();
    while (this.rows.length > 0 && this.writeSlice()) {
      // keep writing
    }
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** One slice per turn of the event loop until the queue is empty. */
  private drain(): void {
    this.clearTimer();
    if (this.rows.length === 0 || !this.writeSlice()) {
      this.draining = false;
      return;
    }
    this.draining = this.rows.length > 0;
    if (this.draining) setImmediate(() => this.drain());
  }

  /** Writes one slice; on failure keeps the rows and retries later. Returns whether the write succeeded. */
  private writeSlice(): boolean {
    const rows = this.rows.splice(0, this.slice);
    try {
      this.options.write(rows);
      return true;
    } catch (err) {
      // A locked or briefly unavailable database: keep the rows for a later tick, bounded so memory stays flat.
      this.options.onError?.(err, rows);
      this.rows.unshift(...rows);
      if (this.rows.length > this.maxPending) this.rows.splice(0, this.rows.length - this.maxPending);
      this.draining = false;
      this.timer ??= setTimeout(() => this.drain(), this.intervalMs * 5);
      return false;
    }
  }
}
