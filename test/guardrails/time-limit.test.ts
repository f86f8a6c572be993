// The guardrails' time limits count CPU time: time the process spends preempted (a busy host) does not spend them,
// work does, and a wall-clock backstop still ends a starved analysis.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Worker } from "node:worker_threads";
import { TimeLimit, cpuMs } from "../../gateway/guardrails/bounds/time-limit.js";

/** Blocks the thread without using CPU, as being preempted does. */
const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
/** Uses `ms` of CPU time, however long that takes on a busy machine. */
const spin = (ms: number) => {
  for (const end = cpuMs() + ms; cpuMs() < end; );
};

describe("TimeLimit", () => {
  it("is not spent by wall-clock time the process did not use", () => {
    const limit = new TimeLimit(50);
    sleep(120);
    assert.equal(limit.passed(), false);
  });

  it("is spent by CPU time, and stays spent", () => {
    const limit = new TimeLimit(20);
    spin(60);
    assert.equal(limit.passed(), true);
    assert.equal(limit.passed(), true);
  });

  it("is not spent by another thread's work (the log writer, GC) where Node measures a thread's CPU time", { skip: "threadCpuUsage" in process ? false : "Node < 23.9 measures only the process's CPU time" }, async () => {
    // The worker spins for 300 ms of wall time while this thread sleeps 200 ms: the process's CPU time grows, this thread's does not.
    const worker = new Worker("const end = Date.now() + 300; while (Date.now() < end);", { eval: true });
    const limit = new TimeLimit(50);
    sleep(200);
    const passed = limit.passed();
    await new Promise((resolve) => worker.once("exit", resolve));
    assert.equal(passed, false);
  });

  it("ends a starved analysis at the wall-clock backstop (20 times the limit)", () => {
    const limit = new TimeLimit(5);
    sleep(120);
    assert.equal(limit.passed(), true);
  });

  it("nests: a script's own limit inside a response's, whichever is spent first", () => {
    assert.equal(new TimeLimit(0).within(1000).passed(), true);
    const inner = TimeLimit.NONE.within(20);
    spin(60);
    assert.equal(inner.passed(), true);
    assert.equal(TimeLimit.NONE.passed(), false);
  });
});
