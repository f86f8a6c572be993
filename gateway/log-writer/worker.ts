// The log's writer thread: owns its own connection to the gateway's SQLite file (WAL: the gateway's connection reads
// and reserves budgets meanwhile), compresses captures and writes entries in time-boxed transactions, so none of that
// runs on the event loop that serves requests. Entries commit in the order they were recorded.
import { parentPort, workerData } from "node:worker_threads";
import { BatchWriter } from "../store/batch-writer.js";
import { openSqlite } from "../store/db.js";
import { type LogEntry, writeEntries } from "../store/requests.js";
import { reserveIn } from "../quotas/store.js";
import { applyLogWrite } from "./apply.js";
import type { FromWriter, ToWriter, WriterData } from "./protocol.js";

const port = parentPort!;
const { path, intervalMs, queueForExport } = workerData as WriterData;
const db = openSqlite(path);
const say = (message: FromWriter) => port.postMessage(message);

interface Queued {
  readonly n: number;
  readonly entry: LogEntry;
  readonly replayed: boolean;
}

/** Leaves out replayed entries whose row is already there: the dead worker committed them (a settlement applies once). */
async function unwritten(queued: readonly Queued[]): Promise<LogEntry[]> {
  const replayed = queued.filter((q) => q.replayed).map((q) => q.entry.row.id);
  if (replayed.length === 0) return queued.map((q) => q.entry);
  const present = new Set((await db.selectFrom("requests").select("id").where("id", "in", replayed).execute()).map((r) => r.id));
  return queued.filter((q) => !q.replayed || !present.has(q.entry.row.id)).map((q) => q.entry);
}

const writer = new BatchWriter<Queued>({
  intervalMs,
  // A transaction holds SQLite's write lock, which the gateway's budget reservations wait for: keep each short.
  sliceMs: 2,
  // Nothing is dropped: the gateway counts what is pending and refuses requests past its bound.
  maxPending: Number.POSITIVE_INFINITY,
  write: async (queued) => {
    const entries = await unwritten(queued);
    if (entries.length > 0) await writeEntries(db, "sqlite", entries, applyLogWrite, queueForExport);
    say({ type: "committed", upTo: queued.at(-1)!.n });
  },
  onError: (err) => say({ type: "failed", message: err instanceof Error ? err.message : String(err) }),
});

port.on("message", (message: ToWriter) => {
  switch (message.type) {
    case "entries":
      message.entries.forEach((entry, i) => writer.add({ n: message.first + i, entry, replayed: message.replayed === true }));
      return;
    case "reserve":
      // Between the log's transactions: Kysely's one connection runs one transaction at a time.
      reserveIn({ db }, message.lines, message.nanos, Date.now()).then(
        (result) => say({ type: "reserved", id: message.id, result }),
        (err: unknown) => say({ type: "reserve_failed", id: message.id, message: err instanceof Error ? err.message : String(err) }),
      );
      return;
    case "flush":
      void writer.flush().then(() => say({ type: "flushed", id: message.id }));
      return;
    case "close":
      void writer
        .flush()
        .then(() => db.destroy())
        .then(() => {
          say({ type: "closed" });
          port.close();
        });
      return;
  }
});
