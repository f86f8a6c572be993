// Getting the runner onto the tailnet with the job's OIDC token: install, daemon, `tailscale up`, and undoing it all.
import { createHash } from "node:crypto";
import { createReadStream, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { sanitizeTagPart } from "../src/tags.js";
import type { RunContext } from "./context.js";
import type { Clock, Exec, SpawnDetached, ToolCache } from "./deps.js";
import { ActionError, redact } from "./errors.js";

/** `--client-id`, `--id-token` and `--client-secret` (each taking `file:`) arrived in tailscale 1.90.0. */
const MIN_VERSION = [1, 90, 0] as const;
const DAEMON_START_TIMEOUT_MS = 30_000;

export interface TailscaleDeps {
  readonly exec: Exec;
  readonly which: (tool: string) => Promise<string | null>;
  readonly spawnDetached: SpawnDetached;
  readonly toolCache: ToolCache;
  readonly fetch: typeof fetch;
  readonly clock: Clock;
  readonly log: { info(m: string): void; warning(m: string): void };
}

export interface Binaries {
  readonly tailscale: string;
  readonly tailscaled: string;
  /** Path of sudo when commands that need root must go through it; "" when running as root (or without sudo). */
  readonly sudo: string;
}

/** `ci-<repo>-<run id>-<attempt>` as a DNS label, so the admin console shows which run a node belongs to. */
export function deriveHostname(repository: string, runId: string, runAttempt: string): string {
  const repo = repository.split("/")[1] ?? "";
  const suffix = `-${sanitizeTagPart(runId, 20)}-${sanitizeTagPart(runAttempt, 4)}`;
  return `${sanitizeTagPart(`ci-${repo}`, 63 - suffix.length)}${suffix}`;
}

export function tarballArch(arch: string): string {
  const map: Record<string, string> = { x64: "amd64", arm64: "arm64", arm: "arm", ia32: "386" };
  const a = map[arch];
  if (!a) throw new ActionError(`cannot install tailscale for CPU architecture "${arch}"; install it in an earlier step`);
  return a;
}

/** Finds tailscale on PATH, or downloads the pinned version, verifies its sha256 and caches it with tool-cache. */
export async function ensureInstalled(
  opts: { version: string; sha256: string; downloadUrl: string; useCache: boolean },
  ctx: Pick<RunContext, "platform" | "arch" | "isRoot">,
  deps: TailscaleDeps,
): Promise<Binaries & { readonly installedDir: string | null }> {
  const sudo = ctx.isRoot || ctx.platform === "win32" ? "" : ((await deps.which("sudo")) ?? "");
  const onPath = await deps.which("tailscale");
  if (onPath) {
    await checkVersion(onPath, deps);
    const tailscaled = (await deps.which("tailscaled")) ?? "tailscaled";
    deps.log.info(`Using ${onPath}`);
    return { tailscale: onPath, tailscaled, sudo, installedDir: null };
  }
  if (ctx.platform !== "linux") {
    throw new ActionError(
      `tailscale is not installed and this Action installs it only on Linux runners (this one is ${ctx.platform}); ` +
        "install it in an earlier step, or join the tailnet yourself and set join: none",
    );
  }
  const arch = tarballArch(ctx.arch);
  const dir = await install(opts, arch, deps);
  return { tailscale: join(dir, "tailscale"), tailscaled: join(dir, "tailscaled"), sudo, installedDir: dir };
}

async function install(
  { version: wanted, sha256: pinned, downloadUrl: base, useCache }: { version: string; sha256: string; downloadUrl: string; useCache: boolean },
  arch: string,
  deps: TailscaleDeps,
): Promise<string> {
  const version = await resolveVersion(wanted, base, deps);
  const cached = useCache ? deps.toolCache.find("tailscale", version, arch) : "";
  if (cached) {
    deps.log.info(`Using cached tailscale ${version} (${cached})`);
    return cached;
  }
  // Odd minor versions are published on the unstable track.
  const track = Number(version.split(".")[1]) % 2 === 0 ? "stable" : "unstable";
  const name = `tailscale_${version}_${arch}`;
  const url = `${base}/${track}/${name}.tgz`;
  const expected = pinned || (await publishedSha256(url, deps.fetch));
  deps.log.info(`Downloading ${url}`);
  let file: string;
  try {
    file = await deps.toolCache.downloadTool(url);
  } catch (err) {
    throw new ActionError(`could not download tailscale ${version} from ${url}: ${(err as Error).message}`);
  }
  const actual = await sha256File(file);
  if (actual !== expected) {
    throw new ActionError(
      `the tailscale ${version} download from ${url} has sha256 ${actual}, expected ${expected}; refusing to run it ` +
        "(check sha256sum, version and tailscale-download-url)",
    );
  }
  const extracted = join(await deps.toolCache.extractTar(file), name);
  const dir = useCache ? await deps.toolCache.cacheDir(extracted, "tailscale", version, arch) : extracted;
  deps.log.info(`Installed tailscale ${version} (sha256 ${actual}) in ${dir}`);
  return dir;
}

/** The package server's index of a track; its tarballs' version is what tailscale/github-action installs. */
const TrackIndex = z.object({ TarballsVersion: z.string().regex(/^\d+\.\d+\.\d+$/) });

/** `latest` (the stable track) and `unstable` become the version the package server offers now. */
async function resolveVersion(version: string, base: string, deps: TailscaleDeps): Promise<string> {
  if (version !== "latest" && version !== "unstable") return version;
  const url = `${base}/${version === "latest" ? "stable" : "unstable"}/?mode=json`;
  try {
    const res = await deps.fetch(url, { signal: AbortSignal.timeout(30_000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const index = TrackIndex.safeParse(await res.json());
    if (!index.success) throw new Error("no TarballsVersion in it");
    deps.log.info(`version ${version} is tailscale ${index.data.TarballsVersion}`);
    return index.data.TarballsVersion;
  } catch (err) {
    throw new ActionError(`could not resolve version "${version}" from ${url} (${(err as Error).message}); pin an exact version such as 1.94.2`);
  }
}

async function publishedSha256(url: string, fetchFn: typeof fetch): Promise<string> {
  try {
    const res = await fetchFn(`${url}.sha256`, { signal: AbortSignal.timeout(30_000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const sum = (await res.text()).trim().split(/\s+/)[0]?.toLowerCase() ?? "";
    if (!/^[0-9a-f]{64}$/.test(sum)) throw new Error("not a sha256 checksum");
    return sum;
  } catch (err) {
    throw new ActionError(
      `could not fetch the published checksum ${url}.sha256 (${(err as Error).message}); set sha256sum to pin it`,
    );
  }
}

function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash("sha256");
    createReadStream(path)
      .on("data", (chunk) => hash.update(chunk))
      .on("error", reject)
      .on("end", () => resolve(hash.digest("hex")));
  });
}

async function checkVersion(tailscale: string, deps: TailscaleDeps): Promise<void> {
  const r = await deps.exec(tailscale, ["version"]);
  const v = /^(\d+)\.(\d+)\.(\d+)/.exec(r.stdout.trim());
  if (!v) return; // Unknown format: let `tailscale up` speak for itself.
  const parts = [Number(v[1]), Number(v[2]), Number(v[3])];
  for (let i = 0; i < 3; i++) {
    if (parts[i]! > MIN_VERSION[i]!) return;
    if (parts[i]! < MIN_VERSION[i]!) {
      throw new ActionError(
        `the tailscale on this runner is ${v[0]}, but joining (workload identity federation, OAuth clients, keys read ` +
          `from files) needs ${MIN_VERSION.join(".")} or later; update it or remove it so this Action installs its pinned version`,
      );
    }
  }
}

/** The daemon's BackendState ("NeedsLogin", "Running", …), or null when no daemon answers. */
export async function backendState(bin: Binaries, deps: TailscaleDeps): Promise<string | null> {
  const r = await deps.exec(bin.tailscale, ["status", "--json"]);
  try {
    const state = (JSON.parse(r.stdout) as { BackendState?: unknown }).BackendState;
    return typeof state === "string" ? state : null;
  } catch {
    return null;
  }
}

export interface DaemonOptions {
  readonly logFile: string;
  /** tailscaled's --statedir; "" keeps the state in memory (the node is ephemeral anyway). */
  readonly statedir: string;
  readonly extraArgs: readonly string[];
}

/** Makes sure tailscaled runs; returns the pid of the daemon it started, or null if one was already running. */
export async function ensureDaemon(bin: Binaries, o: DaemonOptions, deps: TailscaleDeps): Promise<number | null> {
  const backend = await backendState(bin, deps);
  if (backend === "Running") {
    throw new ActionError(
      "this runner is already connected to a tailnet; set join: none to use that connection " +
        "(its tags must be allowed to reach the gateway)",
    );
  }
  if (backend !== null) return null;
  const state = o.statedir ? `--statedir=${o.statedir}` : "--state=mem:";
  const [cmd, args] = withSudo(bin, bin.tailscaled, [state, ...o.extraArgs]);
  deps.log.info(`Starting ${[cmd, ...args].join(" ")}`);
  const pid = deps.spawnDetached(cmd, args, o.logFile);
  const deadline = deps.clock.now() + DAEMON_START_TIMEOUT_MS;
  while ((await backendState(bin, deps)) === null) {
    if (deps.clock.now() > deadline) {
      throw new ActionError(`tailscaled did not start within ${DAEMON_START_TIMEOUT_MS / 1000}s; its log ends:\n${tail(o.logFile)}`);
    }
    await deps.clock.sleep(250);
  }
  return pid;
}

/** The credential `tailscale up` joins with; each attempt asks for the id token anew (they live five minutes). */
export type JoinCredential =
  | { readonly kind: "federated"; readonly clientId: string; readonly idToken: () => Promise<string> }
  | { readonly kind: "oauth"; readonly secret: string }
  | { readonly kind: "authkey"; readonly key: string };

export interface UpOptions {
  readonly credential: JoinCredential;
  readonly tags: readonly string[];
  readonly hostname: string;
  /** Per attempt. */
  readonly timeoutMs: number;
  readonly extraArgs: readonly string[];
  /** Attempts in all, with 2 s, 4 s, … between them (as tailscale/github-action's `retry`). */
  readonly attempts: number;
  /** Where the credential file goes: secrets travel in a 0600 file (`file:`), never on a command line others can read. */
  readonly tempDir: string;
}

/** Joins with `tailscale up`, retrying; on the last refusal explains what was tried. */
export async function up(bin: Binaries, o: UpOptions, deps: TailscaleDeps): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const { exitCode, said, secret } = await upOnce(bin, o, deps);
    if (exitCode === 0) return;
    if (attempt >= o.attempts) throw new ActionError(refusal(o, exitCode, said, secret, attempt));
    deps.log.warning(`tailscale up attempt ${attempt} of ${o.attempts} exited ${exitCode}: ${said}; retrying in ${attempt * 2}s`);
    await deps.clock.sleep(attempt * 2000);
  }
}

/** The flags that name the credential file, and what goes in it (the CLI reads `file:` values and trims them). */
function credentialFlags(c: JoinCredential, file: string, secret: string): { flags: string[]; content: string } {
  // Ephemeral: the node goes when the job does. Preauthorized: no admin approval for a CI node.
  const attrs = "?ephemeral=true&preauthorized=true";
  switch (c.kind) {
    case "federated":
      return { flags: [`--client-id=${c.clientId}${attrs}`, `--id-token=file:${file}`], content: secret };
    case "oauth":
      return { flags: [`--client-secret=file:${file}`], content: `${secret}${attrs}` };
    case "authkey":
      return { flags: [`--auth-key=file:${file}`], content: secret };
  }
}

async function upOnce(bin: Binaries, o: UpOptions, deps: TailscaleDeps): Promise<{ exitCode: number; said: string; secret: string }> {
  const c = o.credential;
  const secret = c.kind === "federated" ? await c.idToken() : c.kind === "oauth" ? c.secret : c.key;
  const dir = mkdtempSync(join(o.tempDir, "keyless-join-"));
  const file = join(dir, "credential");
  try {
    const { flags, content } = credentialFlags(c, file, secret);
    writeFileSync(file, content, { mode: 0o600 });
    const args = [
      "up",
      ...flags,
      `--advertise-tags=${o.tags.join(",")}`,
      `--hostname=${o.hostname}`,
      `--timeout=${Math.ceil(o.timeoutMs / 1000)}s`,
      ...o.extraArgs,
    ];
    const [cmd, full] = withSudo(bin, bin.tailscale, args);
    deps.log.info(redact([cmd, ...full].join(" "), [secret]));
    const r = await deps.exec(cmd, full);
    return { exitCode: r.exitCode, said: redact(`${r.stderr}\n${r.stdout}`.trim(), [secret]) || "(no output)", secret };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Where to look when Tailscale refuses, per kind of credential. */
const CHECK: Record<JoinCredential["kind"], string> = {
  federated:
    "Check the federated identity in the Tailscale admin console (Settings → Trust credentials): the issuer must be " +
    "GitHub, its subject pattern must match this job's subject, and its tags must be these tags or own them " +
    "(tagOwners in the tailnet policy).",
  oauth:
    "Check the OAuth client in the Tailscale admin console (Settings → Trust credentials): it needs the auth_keys " +
    "(write) scope, and its tags must be these tags or own them (tagOwners in the tailnet policy).",
  authkey:
    "Check the auth key in the Tailscale admin console (Settings → Keys): not expired, not already used if it is " +
    "single-use, and tagged with these tags (or with tags that own them).",
};

function refusal(o: UpOptions, exitCode: number, said: string, secret: string, attempts: number): string {
  const c = o.credential;
  const tags = `tags "${o.tags.join(",")}"`;
  const what =
    c.kind === "federated"
      ? `with client id "${c.clientId}" and ${tags}${subjectHint(secret)}`
      : `with the ${c.kind === "oauth" ? "OAuth client secret" : "auth key"} and ${tags}`;
  return (
    `Tailscale refused to let this job join: tailscale up exited ${exitCode} ${what}` +
    `${attempts > 1 ? ` (attempt ${attempts} of ${attempts})` : ""}.\ntailscale said: ${said}\n${CHECK[c.kind]} See docs/action.md.`
  );
}

/** `tailscale ping -c 1` each peer until it answers (directly or through DERP), as tailscale/github-action's `ping`. */
export async function pingPeers(bin: Binaries, hosts: readonly string[], timeoutMs: number, deps: TailscaleDeps): Promise<void> {
  await Promise.all(hosts.map((host) => pingPeer(bin, host, timeoutMs, deps)));
}

async function pingPeer(bin: Binaries, host: string, timeoutMs: number, deps: TailscaleDeps): Promise<void> {
  const deadline = deps.clock.now() + timeoutMs;
  for (;;) {
    const r = await deps.exec(bin.tailscale, ["ping", "-c", "1", host]);
    // Relayed through DERP still reaches the peer; a CI job need not wait for a direct path.
    if (r.exitCode === 0 || r.stderr.includes("direct connection not established")) {
      deps.log.info(`tailscale ping ${host}: reachable`);
      return;
    }
    if (deps.clock.now() >= deadline) {
      const said = `${r.stderr}\n${r.stdout}`.trim() || `exit ${r.exitCode}`;
      throw new ActionError(
        `tailscale ping ${host} got no answer within ${Math.round(timeoutMs / 1000)}s (input "ping"); tailscale said: ${said}`,
      );
    }
    await deps.clock.sleep(1000);
  }
}

/** Names the token's `sub` claim (not a secret) so the admin can compare it with the federated identity's pattern. */
function subjectHint(jwt: string): string {
  try {
    const claims = JSON.parse(Buffer.from(jwt.split(".")[1] ?? "", "base64url").toString("utf8")) as { sub?: unknown };
    return typeof claims.sub === "string" ? ` for the token subject "${claims.sub}"` : "";
  } catch {
    return "";
  }
}

export async function logout(bin: Binaries, deps: Pick<TailscaleDeps, "exec">): Promise<void> {
  const [cmd, args] = withSudo(bin, bin.tailscale, ["logout"]);
  const r = await deps.exec(cmd, args);
  if (r.exitCode !== 0) throw new Error(`tailscale logout exited ${r.exitCode}: ${r.stderr.trim()}`);
}

/** Stops the daemon this Action started and lets it clean up its network state. */
export async function stopDaemon(bin: Binaries, pid: number, deps: Pick<TailscaleDeps, "exec">): Promise<void> {
  if (bin.sudo) {
    const r = await deps.exec(bin.sudo, ["kill", String(pid)]);
    if (r.exitCode !== 0) throw new Error(`could not stop tailscaled (pid ${pid}): ${r.stderr.trim()}`);
  } else {
    try {
      process.kill(pid, "SIGTERM");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
    }
  }
  const [cmd, args] = withSudo(bin, bin.tailscaled, ["--cleanup"]);
  await deps.exec(cmd, args);
}

function withSudo(bin: Binaries, cmd: string, args: readonly string[]): [string, string[]] {
  return bin.sudo ? [bin.sudo, ["-E", cmd, ...args]] : [cmd, [...args]];
}

function tail(file: string, lines = 20): string {
  if (!existsSync(file)) return "(no log)";
  return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
}
