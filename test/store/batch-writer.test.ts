// The log's batch writer keeps each transaction within its time budget (so a write tick never holds up requests for
// long), writes every row in order, and keeps rows the store refused for a later tick.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BatchWriter } from "../../gateway/store/batch-writer.js";
import { waitFor } from "../helpers/wait.js";

const busy = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // a row that takes `ms` to write
  }
};

describe("BatchWriter", () => {
  it("sizes slices to sliceMs at the measured pace, in order, one slice per turn of the event loop", async () => {
    const slices: number[][] = [];
    const writer = new BatchWriter<number>({ intervalMs: 5, sliceMs: 1, write: async (rows) => void (busy(0.25 * rows.length), slices.push([...rows])) });
    let turns = 0;
    const ticker = setInterval(() => turns++, 0);
    for (let i = 0; i < 200; i++) writer.add(i);
    await waitFor(() => writer.pending === 0 && slices.flat().length === 200, 5000, "every row written");
    clearInterval(ticker);
    assert.deepEqual(slices.flat(), Array.from({ length: 200 }, (_, i) => i));
    // After the first slice has shown the pace (0.25 ms a row), a slice holds about 1 ms of rows, never 64.
    const later = slices.slice(1).map((s) => s.length);
    assert.ok(Math.max(...later) <= 6, `slice sizes ${later}`);
    assert.ok(slices.length >= 200 / 8, `only ${slices.length} slices`);
    assert.ok(turns > 0, "the event loop turned while the queue drained");
  });

  it("flush writes everything at once; a refused write keeps its rows for later", async () => {
    let refuse = true;
    const written: number[] = [];
    const errors: unknown[] = [];
    const writer = new BatchWriter<number>({
      intervalMs: 5,
      write: async (rows) => {
        if (refuse) throw new Error("database is locked");
        written.push(...rows);
      },
      onError: (err) => errors.push(err),
    });
    for (let i = 0; i < 10; i++) writer.add(i);
    await waitFor(() => errors.length > 0, 2000, "the refused write");
    assert.equal(writer.pending, 10);
    refuse = false;
    await writer.flush();
    assert.deepEqual(written, Array.from({ length: 10 }, (_, i) => i));
    assert.equal(writer.pending, 0);
  });
});

describe("BatchWriter under a backlog", () => {
  it("writes larger slices once more than 512 rows wait, so the queue cannot grow without bound", async () => {
    const slices: number[] = [];
    const writer = new BatchWriter<number>({ intervalMs: 5, sliceMs: 1, write: async (rows) => void (busy(0.25 * rows.length), slices.push(rows.length)) });
    for (let i = 0; i < 2000; i++) writer.add(i);
    await waitFor(() => writer.pending === 0, 10_000, "the backlog written");
    assert.equal(slices.reduce((a, b) => a + b, 0), 2000);
    assert.ok(Math.max(...slices) === 64, `largest slice ${Math.max(...slices)}`);
    // Once the queue is back under the threshold, slices return to the time budget.
    assert.ok(slices.at(-1)! <= 6, `last slices ${slices.slice(-5)}`);
  });
});
