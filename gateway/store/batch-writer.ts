// Collects rows in memory and writes them in one transaction per tick, off the response path.
// A tick is at most `intervalMs`, so a SIGKILL loses at most that much.

export interface BatchWriterOptions<T> {
  readonly write: (rows: readonly T[]) => void;
  readonly intervalMs?: number;
  readonly maxBatch?: number;
  readonly onError?: (err: unknown, rows: readonly T[]) => void;
}

export class BatchWriter<T> {
  private rows: T[] = [];
  private timer: NodeJS.Timeout | null = null;
  private readonly intervalMs: number;
  private readonly maxBatch: number;

  constructor(private readonly options: BatchWriterOptions<T>) {
    this.intervalMs = options.intervalMs ?? 200;
    this.maxBatch = options.maxBatch ?? 1000;
  }

  add(row: T): void {
    this.rows.push(row);
    if (this.rows.length >= this.maxBatch) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.intervalMs);
  }

  get pending(): number {
    return this.rows.length;
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.rows.length === 0) return;
    const rows = this.rows;
    this.rows = [];
    try {
      this.options.write(rows);
    } catch (err) {
      // Keep the rows for the next tick (a locked or briefly unavailable database), bounded so memory stays flat.
      this.options.onError?.(err, rows);
      if (this.rows.length + rows.length <= this.maxBatch * 50) this.rows.unshift(...rows);
      this.timer ??= setTimeout(() => this.flush(), this.intervalMs * 5);
    }
  }
}
