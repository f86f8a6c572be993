/**
 * The least any wait allows: what takes milliseconds alone can take seconds on a busy 2-core CI machine, and a poll
 * returns as soon as its condition holds, so only a failing test waits this long.
 */
const MIN_WAIT_MS = 15_000;

/** Polls until `check` returns a value other than undefined/false, or fails after `timeoutMs` (at least MIN_WAIT_MS). */
export async function waitFor<T>(check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 3000, what = "condition"): Promise<T> {
  const limit = Math.max(timeoutMs, MIN_WAIT_MS);
  const deadline = Date.now() + limit;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${limit} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
