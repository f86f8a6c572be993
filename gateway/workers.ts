// `keyless serve --workers N`: a node:cluster primary forks N gateway processes that share the listen socket and the
// store (SQLite in WAL mode, every write a transaction; or PostgreSQL), budgets included. The primary serves nothing:
// it starts the workers, announces the address once all listen, forwards SIGHUP/SIGTERM/SIGINT, and replaces a worker
// that dies. The background jobs (CI-session check runs, webhook delivery, retention) run in every worker: each claims
// its work in the store with a lease, as replicas on several hosts do. One worker, the lead, speaks for all: it says
// the startup warnings and audits a config file change once.
import cluster, { type Worker } from "node:cluster";

/** Set in the environment of the lead worker. */
const LEAD_ENV = "KEYLESS_LEAD_WORKER";

export interface WorkerReady {
  readonly type: "keyless-ready";
  readonly url: string;
  /** Where the store is, as the worker opened it (without credentials). */
  readonly store: string;
}

export const isGatewayWorker = (): boolean => cluster.isWorker;

/** Whether this process speaks for the others (a single process always does). */
export const isLeadWorker = (): boolean => !cluster.isWorker || process.env[LEAD_ENV] === "1";

/** In a worker: tells the primary it listens. */
export function announceReady(ready: WorkerReady): void {
  process.send?.(ready);
}

export function runPrimary(count: number, onReady: (ready: WorkerReady) => void, log: (message: string) => void): void {
  const workers = new Map<Worker, { lead: boolean; ready: boolean }>();
  let announced = false;
  let stopping = false;
  let exitCode = 0;

  const fork = (lead: boolean) => {
    const worker = cluster.fork({ [LEAD_ENV]: lead ? "1" : "0" });
    workers.set(worker, { lead, ready: false });
    worker.on("message", (m: Partial<WorkerReady>) => {
      const state = workers.get(worker);
      if (m?.type !== "keyless-ready" || !state || typeof m.url !== "string" || typeof m.store !== "string") return;
      state.ready = true;
      if (!announced && [...workers.values()].every((w) => w.ready)) {
        announced = true;
        onReady({ type: m.type, url: m.url, store: m.store });
      }
    });
    worker.on("exit", (code, signal) => {
      const state = workers.get(worker)!;
      workers.delete(worker);
      if (code !== 0) exitCode = 1;
      if (stopping) {
        if (workers.size === 0) process.exit(exitCode);
        return;
      }
      // A worker that never came up (bad config, port taken) would fail again: stop everything.
      if (!state.ready) {
        log(`keyless: worker ${worker.process.pid} exited before listening (${signal ?? code}); stopping`);
        return shutdown("SIGTERM", 1);
      }
      log(`keyless: worker ${worker.process.pid} exited (${signal ?? code}); starting another`);
      fork(state.lead);
    });
  };

  const shutdown = (signal: NodeJS.Signals, code = 0) => {
    if (code !== 0) exitCode = code;
    if (stopping) return;
    stopping = true;
    if (workers.size === 0) process.exit(exitCode);
    for (const worker of workers.keys()) worker.process.kill(signal);
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGHUP", () => {
    for (const worker of workers.keys()) worker.process.kill("SIGHUP");
  });
  for (let i = 0; i < count; i++) fork(i === 0);
}
