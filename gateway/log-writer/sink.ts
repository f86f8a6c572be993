// The request log's writer on a worker thread: the request path hands each entry over as data and returns. Entries
// stay here until the worker says they committed, so a worker that dies loses nothing: a new one is started and
// gets every entry not yet committed. While it is down the log says so (RequestLog.accepting), and the gateway
// refuses new requests rather than serve them unlogged.
import { Worker } from "node:worker_threads";
import { BucketStoreUnavailable, type Line, type ReserveResult } from "../quotas/bucket-store.js";
import type { LogEntry, LogSink } from "../store/requests.js";
import type { FromWriter, ToWriter, WriterData } from "./protocol.js";

interface Held {
  readonly n: number;
  readonly entry: LogEntry;
  readonly committed: (() => void) | null;
}

export interface WorkerSinkOptions extends WriterData {
  readonly onError?: (err: unknown) => void;
  /** Wait before a dead worker is replaced. */
  readonly restartMs?: number;
  /** Starts the worker thread (tests wrap it to stop one). */
  readonly spawn?: (data: WriterData) => Worker;
}

/** The compiled worker; under tsx (tests) this module is TypeScript and its worker is loaded through tsx's loader. */
export function startWorker(workerData: WriterData): Worker {
  if (!import.meta.url.endsWith(".ts")) return new Worker(new URL("./worker.js", import.meta.url), { workerData });
  const api = JSON.stringify(import.meta.resolve("tsx/esm/api"));
  const entry = JSON.stringify(new URL("./worker.ts", import.meta.url).href);
  return new Worker(`import(${api}).then((tsx) => { tsx.register(); return import(${entry}); });`, { eval: true, workerData });
}

export class WorkerSink implements LogSink {
  private worker: Worker | null = null;
  private last = 0;
  /** Entries handed over and not yet committed, oldest first, from `head` on (committed ones are cut off in bulk). */
  private held: Held[] = [];
  private head = 0;
  /** Entries recorded in this turn of the event loop: one message per turn, not per request. */
  private batch: LogEntry[] = [];
  private batchFirst = 0;
  private flushes = new Map<number, () => void>();
  private flushId = 0;
  private reservations = new Map<number, { resolve: (r: ReserveResult) => void; reject: (err: Error) => void }>();
  private reservationId = 0;
  private closing: Promise<void> | null = null;
  private running = false;

  constructor(private readonly options: WorkerSinkOptions) {
    this.start();
  }

  get up(): boolean {
    return this.running;
  }

  get pending(): number {
    return this.held.length - this.head;
  }

  add(entry: LogEntry, committed: (() => void) | null): void {
    const n = ++this.last;
    this.held.push({ n, entry, committed });
    if (this.batch.length === 0) {
      this.batchFirst = n;
      setImmediate(() => this.send());
    }
    this.batch.push(entry);
  }

  flush(): Promise<void> {
    this.send();
    const id = ++this.flushId;
    return new Promise((resolve) => {
      this.flushes.set(id, resolve);
      this.post({ type: "flush", id });
      this.keepAlive();
    });
  }

  /** A budget reservation on the writer's connection (quotas/store.ts `Reserver`). */
  reserve(lines: readonly Line[], nanos: number): Promise<ReserveResult> {
    if (!this.running) return Promise.reject(new BucketStoreUnavailable("the request log's writer, which keeps the budgets, is down"));
    const id = ++this.reservationId;
    return new Promise((resolve, reject) => {
      this.reservations.set(id, { resolve, reject });
      this.post({ type: "reserve", id, lines, nanos });
      this.keepAlive();
    });
  }

  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.send();
      const worker = this.worker;
      if (!worker) return resolve();
      worker.once("exit", () => resolve());
      worker.ref();
      this.post({ type: "close" });
    });
    return this.closing;
  }

  /** An idle worker must not keep a process alive; one this process waits for must (or its answer never comes). */
  private keepAlive(): void {
    if (this.closing) return;
    if (this.flushes.size > 0 || this.reservations.size > 0) this.worker?.ref();
    else this.worker?.unref();
  }

  private send(): void {
    if (this.batch.length === 0) return;
    this.post({ type: "entries", first: this.batchFirst, entries: this.batch });
    this.batch = [];
  }

  private post(message: ToWriter): void {
    // While no worker runs, entries wait in `held` and flushes in `flushes`; the next worker gets them all.
    if (this.running) this.worker?.postMessage(message);
  }

  private start(): void {
    const { path, intervalMs, queueForExport } = this.options;
    const worker = (this.options.spawn ?? startWorker)({ path, intervalMs, queueForExport });
    this.worker = worker;
    this.running = true;
    worker.on("message", (message: FromWriter) => this.heard(message));
    worker.on("error", (err) => this.options.onError?.(err));
    worker.on("exit", (code) => this.exited(worker, code));
    this.keepAlive();
    // A new worker gets what its predecessor did not commit, and the flushes still waited for.
    this.batch = [];
    const waiting = this.held.slice(this.head);
    if (waiting.length > 0) this.post({ type: "entries", first: waiting[0]!.n, entries: waiting.map((h) => h.entry), replayed: true });
    for (const id of this.flushes.keys()) this.post({ type: "flush", id });
  }

  private exited(worker: Worker, code: number): void {
    if (this.worker !== worker) return;
    this.running = false;
    this.worker = null;
    // Whether these committed is unknown; refused, they are never forwarded (a committed one holds its nanodollars).
    for (const { reject } of this.reservations.values()) reject(new BucketStoreUnavailable("the request log's writer, which keeps the budgets, stopped"));
    this.reservations.clear();
    if (this.closing) return;
    this.options.onError?.(new Error(`request log writer exited (code ${code}); ${this.pending} entries kept for its replacement`));
    setTimeout(() => this.closing ?? this.start(), this.options.restartMs ?? 1000);
  }

  private heard(message: FromWriter): void {
    switch (message.type) {
      case "committed": {
        while (this.head < this.held.length && this.held[this.head]!.n <= message.upTo) this.held[this.head++]!.committed?.();
        if (this.head > 1024 && this.head * 2 > this.held.length) {
          this.held = this.held.slice(this.head);
          this.head = 0;
        }
        return;
      }
      case "flushed":
        this.flushes.get(message.id)?.();
        this.flushes.delete(message.id);
        return this.keepAlive();
      case "reserved":
        this.reservations.get(message.id)?.resolve(message.result);
        this.reservations.delete(message.id);
        return this.keepAlive();
      case "reserve_failed":
        this.reservations.get(message.id)?.reject(new BucketStoreUnavailable(message.message));
        this.reservations.delete(message.id);
        return this.keepAlive();
      case "failed":
        this.options.onError?.(new Error(message.message));
        return;
      case "closed":
        return;
    }
  }
}
