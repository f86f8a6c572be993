// The main step: join the tailnet, wait for the gateway, register the job, point every agent at the gateway.
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as actionsCore from "@actions/core";
import { deriveTag } from "../src/tags.js";
import { agentSetup, writeAgentFiles } from "./agents.js";
import { type RunContext, pullRequestOf, readContext } from "./context.js";
import type { Clock, Core, Exec, SpawnDetached, ToolCache } from "./deps.js";
import { ActionError, describeError } from "./errors.js";
import { createSession, waitForHealth } from "./gateway-client.js";
import { type Inputs, type TailscaleAuth, readInputs } from "./inputs.js";
import { getOidcToken, missingOidcMessage } from "./oidc.js";
import { startProxy } from "./proxy.js";
import { clock, exec, runnerCore, spawnDetached, toolCache, which } from "./runtime.js";
import type { StateKey } from "./state.js";
import { type JoinCredential, type TailscaleDeps, deriveHostname, ensureDaemon, ensureInstalled, pingPeers, up } from "./tailscale.js";

export interface MainDeps {
  readonly core: Core;
  readonly exec: Exec;
  readonly which: (tool: string) => Promise<string | null>;
  readonly spawnDetached: SpawnDetached;
  readonly toolCache: ToolCache;
  readonly fetch: typeof fetch;
  readonly clock: Clock;
  /** Node binary and dist/proxy.js, for `local-proxy`. */
  readonly node: string;
  readonly proxyScript: string;
}

/** Expands each tag template for this repository; fails naming the template that cannot give a valid tag. */
export function resolveTags(templates: readonly string[], repository: string): string[] {
  const tags = templates.map((t) => {
    try {
      return deriveTag(t, repository);
    } catch (err) {
      throw new ActionError(`input "tags": ${(err as Error).message}`);
    }
  });
  return [...new Set(tags)];
}

export async function runMain(inputs: Inputs, ctx: RunContext, deps: MainDeps): Promise<void> {
  const { core } = deps;
  // The runner masks values from `secrets.*` itself; a credential given any other way is masked here.
  if (inputs.auth?.kind === "oauth") core.setSecret(inputs.auth.secret);
  if (inputs.auth?.kind === "authkey") core.setSecret(inputs.auth.key);
  const save: Save = (key, value) => core.saveState(key, String(value));
  const tags = resolveTags(inputs.tags, ctx.repository);

  if (!ctx.oidcAvailable) {
    if (inputs.onMissingOidc === "skip") {
      core.warning(`${missingOidcMessage(ctx)} Continuing without the gateway (on-missing-oidc: skip); no agent is configured.`);
      core.setOutput("skipped", "true");
      return;
    }
    throw new ActionError(missingOidcMessage(ctx));
  }
  save("gateway", inputs.gateway);

  if (inputs.auth) await joinTailnet(inputs, inputs.auth, ctx, tags, deps, save);

  const reach = {
    tailscale: `the tailnet policy lets ${tags.join(",")} reach it`,
    none: "this runner's tailnet identity may reach it",
    token: "it is published at this URL (a TLS proxy of your own; the gateway refuses Tailscale Funnel)",
  }[inputs.join];
  await waitForHealth(inputs.gateway, inputs.timeoutMs, reach, deps);

  const oidcToken = await getOidcToken(core, inputs.gatewayAudience, "the gateway");
  const pr = pullRequestOf(ctx);
  const job = ctx.job ? { job: ctx.job.slice(0, 100) } : {};
  const wantsToken = inputs.join === "token" ? { session_token: true } : {};
  const created = await createSession(inputs.gateway, { oidc_token: oidcToken, ...pr, ...job, ...wantsToken }, deps.fetch);
  const { session, resumed } = created;
  save("session_id", session.id);
  let key: string | undefined;
  if (inputs.join === "token") {
    if (!created.session_token) throw new ActionError("the gateway opened the session but issued no session token; is it a keyless version with session tokens?");
    key = created.session_token;
    core.setSecret(key);
    save("session_token", key);
    core.info(`Session token issued, valid until ${created.session_token_expires_at ?? "the session finishes"}`);
  }
  core.info(
    `${resumed ? "Resumed" : "Registered"} session ${session.id} for ${session.repository} run ${session.run_id}` +
      (session.pr_number ? ` (PR #${session.pr_number})` : "") +
      ` with ${inputs.gateway}` +
      (session.check_run_url ? `; check run: ${session.check_run_url}` : ""),
  );

  let base = inputs.gateway;
  if (inputs.localProxy) {
    const dir = join(ctx.runnerTemp, "keyless");
    const proxy = await startProxy(
      { target: inputs.gateway, node: deps.node, script: deps.proxyScript, readyFile: join(dir, `proxy-${process.pid}.json`), logFile: join(dir, "proxy.log") },
      deps,
    );
    save("proxy_pid", proxy.pid);
    base = proxy.url;
    core.info(`Local proxy ${base} forwards to ${inputs.gateway}`);
  }

  const setup = agentSetup(base, inputs, ctx, key);
  writeAgentFiles(setup.files, (m) => core.warning(m));
  for (const w of setup.warnings) core.warning(w);
  const env = { ...setup.env, KEYLESS_BASE_URL: base, KEYLESS_SESSION_ID: session.id };
  for (const [name, value] of Object.entries(env)) core.exportVariable(name, value);
  core.info(`Configured ${inputs.agents.length ? inputs.agents.join(", ") : "no agents"}; exported ${Object.keys(env).sort().join(", ")}`);

  core.setOutput("base-url", base);
  core.setOutput("session-id", session.id);
  core.setOutput("skipped", "false");
  for (const [name, value] of Object.entries(setup.outputs)) core.setOutput(name, value);
}

type Save = (key: StateKey, value: string | number) => void;

/** Installs tailscale if needed, starts its daemon if needed, and joins; state records each step for post. */
async function joinTailnet(inputs: Inputs, auth: TailscaleAuth, ctx: RunContext, tags: readonly string[], deps: MainDeps, save: Save): Promise<void> {
  const { core } = deps;
  const tsDeps: TailscaleDeps = { ...deps, log: core };
  const bin = await ensureInstalled(
    { version: inputs.version, sha256: inputs.sha256sum, downloadUrl: inputs.downloadUrl, useCache: inputs.useCache },
    ctx,
    tsDeps,
  );
  if (bin.installedDir) core.addPath(bin.installedDir);
  save("tailscale", bin.tailscale);
  save("tailscaled", bin.tailscaled);
  save("sudo", bin.sudo);
  const daemon = { logFile: join(ctx.runnerTemp, "keyless-tailscaled.log"), statedir: inputs.statedir, extraArgs: inputs.tailscaledArgs };
  const daemonPid = await ensureDaemon(bin, daemon, tsDeps);
  if (daemonPid !== null) save("tailscaled_pid", daemonPid);
  const hostname = inputs.hostname || deriveHostname(ctx.repository, ctx.runId, ctx.runAttempt);
  // Minted just before each attempt: GitHub OIDC tokens live five minutes.
  const credential: JoinCredential =
    auth.kind === "federated"
      ? { kind: "federated", clientId: auth.clientId, idToken: () => getOidcToken(core, auth.audience, "Tailscale") }
      : auth;
  await up(
    bin,
    { credential, tags, hostname, timeoutMs: inputs.timeoutMs, extraArgs: inputs.args, attempts: inputs.retry, tempDir: ctx.runnerTemp },
    tsDeps,
  );
  // Saved once up succeeded: a refused node never joined, and logout is for nodes that did.
  save("joined", "true");
  core.info(`Joined the tailnet as ${hostname} with tags ${tags.join(",")}`);
  await pingPeers(bin, inputs.ping, inputs.timeoutMs, tsDeps);
}

/**
 * The main step as the runner runs it: real inputs, context and deps; failures become one explained error.
 * `proxyScript` is dist/proxy.js, located by the entry file (this code may sit in a shared chunk).
 */
export async function run(proxyScript: URL): Promise<void> {
  try {
    const inputs = readInputs((name) => actionsCore.getInput(name));
    await runMain(inputs, readContext(), {
      core: runnerCore,
      exec,
      which,
      spawnDetached,
      toolCache,
      fetch: globalThis.fetch,
      clock,
      node: process.execPath,
      proxyScript: fileURLToPath(proxyScript),
    });
  } catch (err) {
    actionsCore.setFailed(describeError(err));
  }
}
