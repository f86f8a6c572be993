// `keyless serve --workers N`: a node:cluster primary forks N gateway processes that share the listen socket, the
// SQLite store (WAL; every write is a transaction, budgets are debited in one) or PostgreSQL. The primary serves
// nothing: it starts the workers, announces the address once all listen, forwards SIGHUP/SIGTERM/SIGINT, and
// replaces a worker that dies. Exactly one worker runs the background jobs (CI-session check runs, the webhook
// outbox, capture retention): they read their work from the store, and two of them could deliver a webhook twice or
// create a check run twice.
import cluster, { type Worker } from "node:cluster";

/** Set in the environment of the worker that runs the background jobs. */
const JOBS_ENV = "KEYLESS_BACKGROUND_JOBS";

export interface WorkerReady {
  readonly type: "keyless-ready";
  readonly url: string;
}

export const isGatewayWorker = (): boolean => cluster.isWorker;

/** In a worker: whether this one runs the background jobs. */
export const runsBackgroundJobs = (): boolean => !cluster.isWorker || process.env[JOBS_ENV] === "1";

/** In a worker: tells the primary it listens. */
export function announceReady(url: string): void {
  process.send?.({ type: "keyless-ready", url } satisfies WorkerReady);
}

export function runPrimary(count: number, onReady: (url: string) => void, log: (message: string) => void): void {
  const workers = new Map<Worker, { jobs: boolean; ready: boolean }>();
  let announced = false;
  let stopping = false;
  let exitCode = 0;

  const fork = (jobs: boolean) => {
    const worker = cluster.fork({ [JOBS_ENV]: jobs ? "1" : "0" });
    workers.set(worker, { jobs, ready: false });
    worker.on("message", (m: Partial<WorkerReady>) => {
      const state = workers.get(worker);
      if (m?.type !== "keyless-ready" || !state || typeof m.url !== "string") return;
      state.ready = true;
      if (!announced && [...workers.values()].every((w) => w.ready)) {
        announced = true;
        onReady(m.url);
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
      fork(state.jobs);
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
