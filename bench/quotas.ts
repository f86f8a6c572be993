// npm run bench:quotas — reservation latency on the two bucket stores: the gateway's SQLite file (WAL) and PostgreSQL
// (a throwaway database on the local server, as the tests use). Each reservation charges two buckets (a per-user
// bucket and a shared team bucket), as a typical grant does. Prints p50/p99 per store, sequential and with concurrent
// callers on the same buckets (every reservation then queues on the same row locks) and on distinct ones.
// A benchmark, not a test: numbers depend on the machine and on where the database runs.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { QuotaDefinition } from "../gateway/config/quotas.js";
import type { BucketStore, Charge, Line, ReserveResult } from "../gateway/quotas/bucket-store.js";
import { PostgresBucketStore } from "../gateway/quotas/postgres-store.js";
import { QuotaStore } from "../gateway/quotas/store.js";
import { openStore } from "../gateway/store/db.js";
import { createTestDatabase } from "../test/helpers/postgres.js";

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, "").split("=") as [string, string]));
const ITERATIONS = Number(args.get("iterations") ?? 5000);
const CONCURRENCY = Number(args.get("concurrency") ?? 16);
const ESTIMATE = 15_255_000; // $0.015255: a Sonnet request with max_tokens 1000

const def = QuotaDefinition.parse({ capacity: "$1000000.00", rate: "$0/day" });
const charge = (bucket: string): Charge => ({ bucket, quota: bucket, def });
const lines = (user: string, team: string): Line[] => [[charge(user)], [charge(team)]];

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

interface Run {
  readonly p50: number;
  readonly p99: number;
  readonly perSecond: number;
}

/** `n` reservations by `workers` callers at once; each is settled (not timed) before that caller's next one. */
async function measure(store: BucketStore, n: number, workers: number, linesFor: (worker: number) => Line[], settle: (r: ReserveResult, l: Line[], i: number) => Promise<void>): Promise<Run> {
  const times: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      while (next < n) {
        const i = next++;
        const l = linesFor(w);
        const t0 = performance.now();
        const r = await store.reserve(l, ESTIMATE);
        times.push(performance.now() - t0);
        if (!r.ok) throw new Error("bench bucket ran dry");
        await settle(r, l, i);
      }
    }),
  );
  const elapsed = performance.now() - started;
  times.sort((a, b) => a - b);
  return { p50: pct(times, 50), p99: pct(times, 99), perSecond: (n / elapsed) * 1000 };
}

const fmt = (r: Run) => `p50 ${r.p50.toFixed(3)} ms  p99 ${r.p99.toFixed(3)} ms  (${Math.round(r.perSecond)} reservations/s)`;

async function main(): Promise<void> {
  const sqlitePath = join(mkdtempSync(join(tmpdir(), "keyless-bench-")), "keyless.db");
  const sqlite = new QuotaStore(await openStore({ type: "sqlite", path: sqlitePath, pool_size: 1 }));
  const pgdb = await createTestDatabase();
  const pg = await PostgresBucketStore.open({ config: { type: "postgres", url: pgdb.url, pool_size: CONCURRENCY, timeout: 5000 }, store: await openStore({ type: "sqlite", path: `${sqlitePath}.local`, pool_size: 1 }) });
  try {
    const settleSqlite = async (r: ReserveResult, l: Line[], i: number) => {
      if (r.ok) sqlite.settle(`s${i}`, l.map((line, j) => ({ line, portions: r.portions[j]! })), ESTIMATE / 100, false);
    };
    const settlePg = (prefix: string) => async (r: ReserveResult, l: Line[], i: number) => {
      if (r.ok) await pg.settle({ requestId: `${prefix}${i}`, lines: l.map((line, j) => ({ line, portions: r.portions[j]! })), charged: ESTIMATE / 100, atReservation: false });
    };
    const same = () => lines("daily:alice", "team");
    const distinct = (w: number) => lines(`daily:dev${w}`, `team-${w}`);
    // Warm-up: statement caches, connections, the JIT.
    await measure(sqlite, 500, 1, same, settleSqlite);
    await measure(pg, 500, CONCURRENCY, distinct, settlePg("w"));

    const rows: [string, Run][] = [];
    rows.push(["sqlite (file, WAL), sequential", await measure(sqlite, ITERATIONS, 1, same, settleSqlite)]);
    rows.push(["postgres, sequential", await measure(pg, ITERATIONS, 1, same, settlePg("a"))]);
    rows.push([`postgres, ${CONCURRENCY} callers, same 2 buckets`, await measure(pg, ITERATIONS, CONCURRENCY, same, settlePg("b"))]);
    rows.push([`postgres, ${CONCURRENCY} callers, distinct buckets`, await measure(pg, ITERATIONS, CONCURRENCY, distinct, settlePg("c"))]);
    const width = Math.max(...rows.map(([name]) => name.length));
    process.stdout.write(`reservation latency, ${ITERATIONS} reservations of 2 buckets each (settled untimed between)\n`);
    for (const [name, run] of rows) process.stdout.write(`  ${name.padEnd(width)}  ${fmt(run)}\n`);
  } finally {
    await pg.close();
    await pgdb.drop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
