// The post step (always runs): finish the session, write the job summary, stop the proxy, leave the tailnet.
// Every part runs even when an earlier one failed, and none of them fails the job.
import * as core from "@actions/core";
import type { Core, Exec } from "./deps.js";
import { finishSession, getSummary } from "./gateway-client.js";
import { stopProxy } from "./proxy.js";
import { exec, writeSummary } from "./runtime.js";
import { type PostState, readState } from "./state.js";
import { logout, stopDaemon } from "./tailscale.js";

/** A step summary over 1 MiB is dropped by the runner; stay under it. */
const SUMMARY_LIMIT = 1_000_000;

export interface PostDeps {
  readonly core: Pick<Core, "info" | "warning">;
  readonly exec: Exec;
  readonly fetch: typeof fetch;
  readonly writeSummary: (markdown: string) => Promise<void>;
}

export async function runPost(state: PostState, deps: PostDeps): Promise<void> {
  const log = deps.core;
  const parts: [string, () => Promise<void>][] = [];
  const { gateway, session_id: id, session_token: token } = state;
  if (gateway && id) {
    const finish: [string, () => Promise<void>] = [
      "finish the session",
      async () => {
        await finishSession(gateway, id, deps.fetch, token);
        log.info(`Finished session ${id}`);
      },
    ];
    const summarize: [string, () => Promise<void>] = [
      "write the job summary",
      async () => {
        const summary = await getSummary(gateway, id, deps.fetch, token);
        await deps.writeSummary(fitSummary(summary.markdown));
        log.info(`Wrote the job summary of session ${id}`);
      },
    ];
    // The summary after finishing shows the final state; a session token dies with its session, so a token session
    // is summarised first.
    parts.push(...(token ? [summarize, finish] : [finish, summarize]));
  }
  const proxyPid = state.proxy_pid;
  if (proxyPid) parts.push(["stop the local proxy", async () => stopProxy(proxyPid)]);
  const bin = { tailscale: state.tailscale, tailscaled: state.tailscaled, sudo: state.sudo };
  if (state.joined) {
    parts.push([
      "leave the tailnet (tailscale logout)",
      async () => {
        try {
          await logout(bin, deps);
        } catch (err) {
          throw new Error(`${(err as Error).message}; the ephemeral node will be removed by Tailscale once it goes offline`);
        }
      },
    ]);
  }
  const daemonPid = state.tailscaled_pid;
  if (daemonPid) parts.push(["stop tailscaled", () => stopDaemon(bin, daemonPid, deps)]);

  if (parts.length === 0) log.info("keyless: nothing to clean up");
  for (const [what, fn] of parts) {
    try {
      await fn();
    } catch (err) {
      // Cleanup problems are all "expected" here: report the message, never a stack.
      log.warning(`keyless could not ${what}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

export function fitSummary(markdown: string): string {
  if (Buffer.byteLength(markdown) <= SUMMARY_LIMIT) return markdown;
  const cut = Buffer.from(markdown).subarray(0, SUMMARY_LIMIT - 200).toString("utf8").replace(/\uFFFD$/, "");
  return `${cut}\n\n…(truncated: GitHub keeps at most 1 MiB of summary per step; the full report is on the gateway)\n`;
}

/** The post step as the runner runs it. Never fails the job. */
export async function post(): Promise<void> {
  try {
    await runPost(readState((key) => core.getState(key)), { core, exec, fetch: globalThis.fetch, writeSummary });
  } catch (err) {
    core.warning(`keyless cleanup: ${err instanceof Error ? err.message : String(err)}`);
  }
}
