// Child processes for the benchmarks: start one and wait for its ready line; RSS and CPU of a process tree.
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import type { Pool } from "undici";

export interface Spawned {
  readonly child: ChildProcess;
  readonly match: RegExpExecArray;
}

export function spawnReady(cmd: string[], pattern: RegExp, env: NodeJS.ProcessEnv = {}, onOutput?: (text: string) => void): Promise<Spawned> {
  const child = spawn(process.execPath, cmd, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  let out = "";
  let ready = false;
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      if (ready) return onOutput?.(d.toString());
      out += d.toString();
      const m = pattern.exec(out);
      if (m) {
        ready = true;
        resolve({ child, match: m });
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => reject(new Error(`${cmd.join(" ")} exited ${code}: ${out}`)));
  });
}

export function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

/** A process and its children (the workers of `keyless serve --workers N`). */
export function processTree(pid: number): number[] {
  const children = readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
    readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number),
  );
  return [pid, ...children.flatMap(processTree)];
}

export function rssMiB(pid: number): number {
  return processTree(pid).reduce((sum, p) => {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, "utf8"));
    return sum + (m ? Number(m[1]) / 1024 : 0);
  }, 0);
}

const CLOCK_TICK_MS = 10; // USER_HZ is 100 on Linux
/** CPU time (user + system) of a process and its children, milliseconds. */
export function cpuMs(pid: number): number {
  return processTree(pid).reduce((sum, p) => {
    // Fields after the parenthesised command name: utime and stime are the 12th and 13th.
    const fields = readFileSync(`/proc/${p}/stat`, "utf8").replace(/^.*\) /, "").split(" ");
    return sum + (Number(fields[11]) + Number(fields[12])) * CLOCK_TICK_MS;
  }, 0);
}

/** The headers an Anthropic SDK sends (the key is a placeholder: keyless ignores it). */
export const HEADERS = { "content-type": "application/json", "x-api-key": "placeholder", "anthropic-version": "2023-06-01" };

/** One Messages request read to its end: total time and time to the first body chunk, in ms. */
export async function one(pool: Pool, body: string): Promise<{ total: number; ttfb: number }> {
  const t0 = performance.now();
  const res = await pool.request({ path: "/v1/messages", method: "POST", headers: HEADERS, body });
  let ttfb = -1;
  for await (const _ of res.body) if (ttfb < 0) ttfb = performance.now() - t0;
  if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
  return { total: performance.now() - t0, ttfb };
}
