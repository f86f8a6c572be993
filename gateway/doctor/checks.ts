// `keyless doctor`: checks a deployment the way callers will exercise it, one line per check with the fix on failure.
import net from "node:net";
import { gzipSync } from "node:zlib";
import { App, Octokit } from "octokit";
import pg from "pg";
import type { Config } from "../config/schema.js";
import { describePostgresUrl } from "../config/quota-store.js";
import { parseListen } from "../config/listen.js";
import { adapterFor } from "../providers/registry.js";
import { localApiGet } from "../identity/tailscale.js";
import { type LocalStatus, LocalStatus as LocalStatusSchema } from "./localapi.js";

export interface CheckResult {
  readonly name: string;
  readonly status: "ok" | "fail" | "skip";
  readonly detail: string;
  /** What to do about a failure. */
  readonly fix?: string;
}

export interface DoctorOptions {
  readonly config: Config;
  /** The address `keyless serve` listens on (--listen or the config's). */
  readonly listen: string;
  readonly timeoutMs?: number;
}

const ok = (name: string, detail: string): CheckResult => ({ name, status: "ok", detail });
const skip = (name: string, detail: string): CheckResult => ({ name, status: "skip", detail });
const fail = (name: string, detail: string, fix: string): CheckResult => ({ name, status: "fail", detail, fix });
const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

function tcpConnect(host: string, port: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, timeout: timeoutMs });
    socket.once("connect", () => {
      socket.destroy();
      resolve();
    });
    socket.once("timeout", () => socket.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    socket.once("error", reject);
  });
}

async function tailscaleChecks(socket: string, timeoutMs: number): Promise<{ results: CheckResult[]; status?: LocalStatus }> {
  const name = "tailscaled";
  let status: LocalStatus;
  try {
    const answer = await localApiGet(socket, "/localapi/v0/status?peers=false", timeoutMs);
    if (answer.status !== 200) return { results: [fail(name, `LocalAPI at ${socket} answered ${answer.status}: ${answer.body.trim().slice(0, 200)}`, "run keyless as a user that may read tailscaled's socket")] };
    status = LocalStatusSchema.parse(JSON.parse(answer.body));
  } catch (err) {
    return {
      results: [fail(name, `LocalAPI at ${socket} unreachable (${message(err)})`, "start tailscaled, or set identity.socket to the socket it serves (tailscaled --socket=…)")],
    };
  }
  const mode = status.TUN ? "TUN" : "userspace networking";
  const results = [ok(name, `${socket}: tailscaled ${status.Version}, ${mode}`)];
  const self = status.Self;
  const ip = self?.TailscaleIPs?.find((a) => a.includes("."));
  if (status.BackendState !== "Running" || !self || !ip) {
    results.push(fail("this node", `tailscaled is ${status.BackendState}, not on a tailnet`, "run tailscale up (with --advertise-tags=tag:ai-gateway or your gateway's tag)"));
    return { results, status };
  }
  // WhoIs of our own address is what callers' WhoIs answers are built from: the control server's view of this node.
  try {
    const who = await localApiGet(socket, `/localapi/v0/whois?addr=${encodeURIComponent(ip)}`, timeoutMs);
    if (who.status !== 200) {
      results.push(fail("this node", `WhoIs ${ip} answered ${who.status}`, "check tailscale status: this node does not know its own address"));
      return { results, status };
    }
    const node = (JSON.parse(who.body) as { Node?: { Name?: string; Tags?: string[] | null } }).Node;
    const tags = node?.Tags ?? [];
    const detail = `${(node?.Name ?? self.DNSName).replace(/\.$/, "")} ${ip}, ${tags.length ? `tags ${tags.join(",")}` : "untagged"}`;
    results.push(
      tags.length
        ? ok("this node", detail)
        : fail("this node", `${detail}: the gateway runs as a user's device`, "tag the gateway's node (tailscale up --advertise-tags=tag:ai-gateway) so it does not expire with a user's key"),
    );
  } catch (err) {
    results.push(fail("this node", `WhoIs of ${ip} failed (${message(err)})`, "restart tailscaled"));
  }
  return { results, status };
}

async function listenChecks(listen: string, status: LocalStatus | undefined, timeoutMs: number): Promise<CheckResult[]> {
  const { hostname, port } = parseListen(listen);
  const local = hostname === "" || hostname === "0.0.0.0" ? "127.0.0.1" : hostname === "::" ? "::1" : hostname;
  try {
    await tcpConnect(local, port, timeoutMs);
  } catch (err) {
    return [fail("listen", `nothing answers on ${listen} (${message(err)})`, "start keyless serve with this config, or pass the --listen it runs with")];
  }
  const results = [ok("listen", `keyless answers on ${listen}`)];
  const ip = status?.Self?.TailscaleIPs?.find((a) => a.includes("."));
  if (!status || !ip) return [...results, skip("tailnet reach", "no tailnet address to check")];
  const loopbackOnly = /^(127\.|::1$|localhost$)/.test(hostname);
  if (!status.TUN) {
    // Userspace networking: tailscaled hands inbound tailnet connections to 127.0.0.1:<port>, WhoIs maps them back.
    const reaches = loopbackOnly || hostname === "" || hostname === "0.0.0.0";
    return [
      ...results,
      reaches
        ? ok("tailnet reach", `${ip}:${port} → tailscaled (userspace networking) → 127.0.0.1:${port}`)
        : fail("tailnet reach", `userspace networking forwards ${ip}:${port} to 127.0.0.1:${port}, but keyless listens on ${listen}`, `listen on 127.0.0.1:${port}`),
    ];
  }
  if (loopbackOnly) {
    return [...results, fail("tailnet reach", `keyless listens on ${listen} only; tailnet peers connect to ${ip}:${port}`, `listen on ${ip}:${port} (or 0.0.0.0:${port})`)];
  }
  try {
    await tcpConnect(ip, port, timeoutMs);
    return [...results, ok("tailnet reach", `${ip}:${port} answers`)];
  } catch (err) {
    return [...results, fail("tailnet reach", `${ip}:${port} does not answer (${message(err)})`, `listen on ${ip}:${port} (or 0.0.0.0:${port})`)];
  }
}

function providerChecks(config: Config): CheckResult[] {
  const entries = Object.entries(config.providers);
  if (entries.length === 0) return [fail("providers", "no provider configured", "add a provider with its key to providers in the config")];
  return entries.map(([name, p]) =>
    adapterFor(p).configured(p)
      ? ok(`provider ${name}`, `${p.type} credentials present`)
      : fail(`provider ${name}`, `${p.type} has no credentials (requests get 503)`, `set the environment variable its config references, or remove provider "${name}"`),
  );
}

async function githubChecks(config: Config, timeoutMs: number): Promise<CheckResult[]> {
  const gh = config.github;
  if (!gh) return [skip("github", "not configured (no CI sessions or check runs)")];
  const results: CheckResult[] = [];
  const jwks = gh.oidc.jwks_url ?? `${gh.oidc.issuer}/.well-known/jwks`;
  try {
    const res = await fetch(jwks, { signal: AbortSignal.timeout(timeoutMs) });
    const keys = res.ok ? ((await res.json()) as { keys?: unknown[] }).keys : undefined;
    results.push(
      Array.isArray(keys) && keys.length > 0
        ? ok("oidc issuer", `${jwks}: ${keys.length} signing keys`)
        : fail("oidc issuer", `${jwks} answered ${res.status} without signing keys`, "check github.oidc.issuer / jwks_url"),
    );
  } catch (err) {
    results.push(fail("oidc issuer", `${jwks} unreachable (${message(err)})`, "let the gateway reach the issuer over HTTPS (proxy, firewall), or fix github.oidc.issuer"));
  }
  if (!gh.app) {
    results.push(skip("github app", "not configured (no check runs)"));
    return results;
  }
  // As the gateway's own client (github/checks.ts): no retries or throttling, so a failure shows at once.
  const timedFetch: typeof fetch = (input, init) => fetch(input, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  const app = new App({
    appId: gh.app.id,
    privateKey: gh.app.private_key,
    Octokit: Octokit.defaults({ baseUrl: gh.api_url, userAgent: "keyless-doctor", retry: { enabled: false }, throttle: { enabled: false }, request: { fetch: timedFetch } }),
  });
  // What the gateway needs is the app installed on each mapped repository; `owner/*` patterns name none to ask about.
  const repos = Object.keys(gh.repos ?? {}).filter((r) => !r.endsWith("/*")).slice(0, 20);
  const probes: [string, () => Promise<unknown>][] =
    repos.length > 0
      ? repos.map((full) => {
          const [owner = "", repo = ""] = full.split("/");
          return [`installed on ${full}`, () => app.octokit.request("GET /repos/{owner}/{repo}/installation", { owner, repo })];
        })
      : [["credentials accepted", () => app.octokit.request("GET /app")]];
  for (const [what, probe] of probes) {
    try {
      await probe();
      results.push(ok("github app", `app ${gh.app.id} ${what}`));
    } catch (err) {
      const status = (err as { status?: number }).status;
      results.push(
        status === 401
          ? fail("github app", `${gh.api_url} refused app ${gh.app.id} (401)`, "check github.app.id and that private_key is the app's current key")
          : status === 404
            ? fail("github app", `app ${gh.app.id} is not ${what}`, "install the GitHub App on that repository (or its owner)")
            : fail("github app", `${gh.api_url}: ${message(err)}`, "let the gateway reach the GitHub API, or fix github.api_url"),
      );
    }
  }
  return results;
}

async function postgresCheck(config: Config, timeoutMs: number): Promise<CheckResult[]> {
  const qs = config.quota_store;
  if (qs.type !== "postgres") return [];
  const where = describePostgresUrl(qs.url);
  const client = new pg.Client({ connectionString: qs.url, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return [ok("postgres", `${where} reachable`)];
  } catch (err) {
    // pg's messages name the host and user, never the password.
    return [fail("postgres", `${where}: ${message(err)}`, "check quota_store.url and that PostgreSQL accepts this gateway")];
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The collector answers on its port (what OTLP exports need before anything else). */
async function telemetryCheck(config: Config, timeoutMs: number): Promise<CheckResult[]> {
  if (!config.telemetry) return [];
  const url = new URL(config.telemetry.otlp.endpoint);
  const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
  try {
    await tcpConnect(url.hostname, port, timeoutMs);
    return [ok("telemetry", `OTLP collector ${url.host} answers`)];
  } catch (err) {
    return [fail("telemetry", `OTLP collector ${url.host}: ${message(err)}`, "check telemetry.otlp.endpoint (the collector's OTLP/HTTP port, usually 4318)")];
  }
}

/** The exporter may write into its bucket: a small probe object, as the export writes its own. */
async function exportCheck(config: Config, timeoutMs: number): Promise<CheckResult[]> {
  if (!config.export) return [];
  const { bucket, prefix } = config.export.s3;
  const where = `s3://${bucket}/${prefix}`;
  const { s3Sink } = await import("../export/s3.js");
  const sink = s3Sink(config.export.s3);
  try {
    // An empty JSON Lines file, gzipped like every object the export writes.
    await sink.put(`${prefix}.keyless-doctor`, gzipSync(""), AbortSignal.timeout(timeoutMs));
    return [ok("export", `${where} writable`)];
  } catch (err) {
    return [fail("export", `${where}: ${message(err)}`, "check export.s3 (bucket, region, endpoint, force_path_style) and that the credentials may PutObject")];
  } finally {
    sink.close();
  }
}

export async function runDoctor({ config, listen, timeoutMs = 5000 }: DoctorOptions): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  let status: LocalStatus | undefined;
  if (config.identity.type === "tailscale") {
    const ts = await tailscaleChecks(config.identity.socket, timeoutMs);
    results.push(...ts.results);
    status = ts.status;
  } else {
    results.push(skip("tailscaled", 'identity is "local": loopback callers only, no tailnet identity'));
  }
  results.push(...(await listenChecks(listen, status, timeoutMs)));
  results.push(...providerChecks(config));
  results.push(...(await githubChecks(config, timeoutMs)));
  results.push(...(await postgresCheck(config, timeoutMs)));
  results.push(...(await telemetryCheck(config, timeoutMs)));
  results.push(...(await exportCheck(config, timeoutMs)));
  return results;
}

export function formatResults(results: readonly CheckResult[]): string {
  const width = Math.max(...results.map((r) => r.name.length));
  return results
    .map((r) => `${r.status === "ok" ? "ok  " : r.status === "skip" ? "skip" : "FAIL"}  ${r.name.padEnd(width)}  ${r.detail}${r.fix ? ` — fix: ${r.fix}` : ""}`)
    .join("\n");
}
