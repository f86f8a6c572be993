import { createRequire as __keylessCreateRequire } from "node:module";
const require = __keylessCreateRequire(import.meta.url);
import {
  core_exports,
  exec,
  external_exports,
  finishSession,
  getState,
  getSummary,
  logout,
  stopDaemon,
  warning,
  writeSummary
} from "./chunks/chunk-OUSDEZKD.js";
import {
  stopProxy
} from "./chunks/chunk-43Z4EIJG.js";

// action/state.ts
var STATE_KEYS = ["gateway", "session_id", "session_token", "proxy_pid", "tailscale", "tailscaled", "sudo", "joined", "tailscaled_pid"];
var pid = external_exports.string().regex(/^\d+$/).transform(Number).optional().catch(void 0);
var PostState = external_exports.object({
  gateway: external_exports.string().optional(),
  session_id: external_exports.string().optional(),
  session_token: external_exports.string().optional(),
  proxy_pid: pid,
  tailscale: external_exports.string().default("tailscale"),
  tailscaled: external_exports.string().default("tailscaled"),
  sudo: external_exports.string().default(""),
  joined: external_exports.literal("true").optional().catch(void 0),
  tailscaled_pid: pid
});
function readState(get) {
  const raw = Object.fromEntries(STATE_KEYS.map((k) => [k, get(k) || void 0]));
  return PostState.parse(raw);
}

// action/post.ts
var SUMMARY_LIMIT = 1e6;
async function runPost(state, deps) {
  const log = deps.core;
  const parts = [];
  const { gateway, session_id: id, session_token: token } = state;
  if (gateway && id) {
    const finish = [
      "finish the session",
      async () => {
        await finishSession(gateway, id, deps.fetch, token);
        log.info(`Finished session ${id}`);
      }
    ];
    const summarize = [
      "write the job summary",
      async () => {
        const summary = await getSummary(gateway, id, deps.fetch, token);
        await deps.writeSummary(fitSummary(summary.markdown));
        log.info(`Wrote the job summary of session ${id}`);
      }
    ];
    parts.push(...token ? [summarize, finish] : [finish, summarize]);
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
          throw new Error(`${err.message}; the ephemeral node will be removed by Tailscale once it goes offline`);
        }
      }
    ]);
  }
  const daemonPid = state.tailscaled_pid;
  if (daemonPid) parts.push(["stop tailscaled", () => stopDaemon(bin, daemonPid, deps)]);
  if (parts.length === 0) log.info("keyless: nothing to clean up");
  for (const [what, fn] of parts) {
    try {
      await fn();
    } catch (err) {
      log.warning(`keyless could not ${what}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}
function fitSummary(markdown) {
  if (Buffer.byteLength(markdown) <= SUMMARY_LIMIT) return markdown;
  const cut = Buffer.from(markdown).subarray(0, SUMMARY_LIMIT - 200).toString("utf8").replace(/\uFFFD$/, "");
  return `${cut}

…(truncated: GitHub keeps at most 1 MiB of summary per step; the full report is on the gateway)
`;
}
async function post() {
  try {
    await runPost(readState((key) => getState(key)), { core: core_exports, exec, fetch: globalThis.fetch, writeSummary });
  } catch (err) {
    warning(`keyless cleanup: ${err instanceof Error ? err.message : String(err)}`);
  }
}

// action/post-index.ts
await post();
