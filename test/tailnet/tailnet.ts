// A real tailnet on loopback: tailnet-lab (Tailscale's testcontrol + DERP/STUN) and real tailscaled processes in
// userspace-networking mode, each with its own state dir, LocalAPI socket, SOCKS5 and HTTP outbound proxy.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { ProxyAgent } from "undici";
import { z } from "zod";
import { type Binaries, buildTailnet } from "./build.js";

const run = promisify(execFile);

const LabInfo = z.object({ controlURL: z.string(), labURL: z.string(), derpURL: z.string(), stunAddr: z.string(), authKey: z.string() });
export type LabInfo = z.infer<typeof LabInfo>;

export const LabNode = z.object({
  id: z.string(),
  name: z.string(),
  hostname: z.string(),
  tags: z.array(z.string()).nullable(),
  addresses: z.array(z.string()).nullable(),
  nodeKey: z.string(),
  keyExpiry: z.string().nullable(),
});
export type LabNode = z.infer<typeof LabNode>;

export const KeyRequest = z.object({
  clientId: z.string(),
  idToken: z.string(),
  ephemeral: z.boolean(),
  preauthorized: z.boolean(),
  tags: z.array(z.string()).nullable(),
});
export type KeyRequest = z.infer<typeof KeyRequest>;

/** One grant of the lab's policy, as in a tailnet policy file: src/dst are "*", tags, hostnames or IPs. */
export interface LabGrant {
  readonly src: readonly string[];
  readonly dst: readonly string[];
  readonly app: Readonly<Record<string, readonly unknown[]>>;
}

export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
}

export interface NodeOptions {
  readonly hostname: string;
  readonly tags?: readonly string[];
  /** Extra tailscaled flags. */
  readonly daemonArgs?: readonly string[];
  /** A kernel TUN device in a network namespace of its own instead of userspace networking. */
  readonly kernelTun?: boolean;
  /** Host loopback ports reachable from inside the namespace at the same 127.0.0.1 port (kernelTun). */
  readonly bridgePorts?: readonly number[];
}

export class TailscaleNode {
  readonly dir: string;
  readonly socket: string;
  readonly socksPort: number;
  readonly httpProxyPort: number;
  private daemon: ChildProcess | undefined;
  private readonly bridges: ChildProcess[] = [];
  private log = "";
  ip = "";

  constructor(
    private readonly tailnet: Tailnet,
    readonly options: NodeOptions,
    ports: { socks: number; http: number },
  ) {
    this.dir = mkdtempSync(join(tmpdir(), `keyless-ts-${options.hostname}-`));
    this.socket = join(this.dir, "tailscaled.sock");
    this.socksPort = ports.socks;
    this.httpProxyPort = ports.http;
  }

  /** Starts (or restarts, keeping its state) this node's tailscaled and waits for its LocalAPI socket. */
  async startDaemon(): Promise<void> {
    const { bins, info } = this.tailnet;
    rmSync(this.socket, { force: true });
    const common = [`--statedir=${join(this.dir, "state")}`, `--socket=${this.socket}`, "--port=0", "--no-logs-no-support", ...(this.options.daemonArgs ?? [])];
    const env = {
      ...process.env,
      TS_LOGS_DIR: this.dir,
      // As Tailscale's own integration tests run it: never reach the internet or the production control plane.
      TS_ASSUME_NETWORK_UP_FOR_TEST: "1",
      TS_DISABLE_PORTMAPPER: "1",
      TS_PANIC_IF_HIT_MAIN_CONTROL: "1",
      TS_NETCHECK_GENERATE_204_URL: `${info.controlURL}/generate_204`,
    };
    const child = this.options.kernelTun
      ? this.spawnInNetns(common, env)
      : spawn(
          bins.tailscaled,
          [...common, "--tun=userspace-networking", `--socks5-server=127.0.0.1:${this.socksPort}`, `--outbound-http-proxy-listen=127.0.0.1:${this.httpProxyPort}`],
          { stdio: ["ignore", "pipe", "pipe"], env },
        );
    const keep = (c: Buffer) => (this.log = (this.log + c.toString()).slice(-20_000));
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    this.daemon = child;
    await waitFor(`${this.options.hostname}'s tailscaled socket`, async () => (existsSync(this.socket) ? true : undefined), 20_000);
  }

  /**
   * tailscaled with a kernel TUN device inside a network namespace of its own (unshare -n), so its routes and
   * firewall rules never touch the host. The namespace has only loopback: the lab's control and DERP ports are
   * bridged in over unix sockets (socat), the filesystem being shared.
   */
  private spawnInNetns(common: readonly string[], env: NodeJS.ProcessEnv): ChildProcess {
    const ports = [new URL(this.tailnet.info.controlURL).port, new URL(this.tailnet.info.derpURL).port, ...(this.options.bridgePorts ?? []).map(String)];
    for (const port of ports) {
      const bridge = spawn("socat", [`UNIX-LISTEN:${join(this.dir, `bridge-${port}.sock`)},fork`, `TCP:127.0.0.1:${port}`], { stdio: "ignore" });
      this.bridges.push(bridge);
    }
    const inside = ports.map((p) => `socat TCP-LISTEN:${p},bind=127.0.0.1,fork,reuseaddr UNIX-CONNECT:${join(this.dir, `bridge-${p}.sock`)} &`).join(" ");
    const quoted = [this.tailnet.bins.tailscaled, ...common, "--tun=ktun0"].map((a) => `'${a}'`).join(" ");
    // detached: the shell, its socats and tailscaled share a process group the test stops as one.
    return spawn("unshare", ["-n", "sh", "-c", `ip link set lo up && ${inside} exec ${quoted}`], { stdio: ["ignore", "pipe", "pipe"], env, detached: true });
  }

  /** Runs a command inside this node's network namespace (kernel TUN nodes). */
  spawnInside(cmd: string, args: readonly string[], stdin: "ignore" | "pipe" = "ignore"): ChildProcess {
    const pid = this.daemon?.pid;
    if (!this.options.kernelTun || !pid) throw new Error(`${this.options.hostname} has no network namespace`);
    return spawn("nsenter", [`--net=/proc/${pid}/ns/net`, cmd, ...args], { stdio: [stdin, "pipe", "inherit"] });
  }

  /** Runs the real tailscale CLI against this node's tailscaled. */
  async cli(...args: string[]): Promise<string> {
    const { stdout } = await run(this.tailnet.bins.tailscale, [`--socket=${this.socket}`, ...args], { timeout: 60_000 });
    return stdout;
  }

  async up(extra: readonly string[] = []): Promise<void> {
    const { info } = this.tailnet;
    await this.cli(
      "up",
      `--login-server=${info.controlURL}`,
      `--authkey=${info.authKey}`,
      `--hostname=${this.options.hostname}`,
      ...(this.options.tags?.length ? [`--advertise-tags=${this.options.tags.join(",")}`] : []),
      // A namespaced node shares the host's /etc: it must never rewrite resolv.conf.
      ...(this.options.kernelTun ? ["--accept-dns=false"] : []),
      "--timeout=60s",
      ...extra,
    );
    this.ip = (await this.cli("ip", "-4")).trim();
  }

  /** Raw LocalAPI WhoIs as keyless sends it. */
  async whois(addr: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        { socketPath: this.socket, path: `/localapi/v0/whois?addr=${encodeURIComponent(addr)}`, headers: { Host: "local-tailscaled.sock" } },
        (r) => {
          let body = "";
          r.setEncoding("utf8");
          r.on("data", (c: string) => (body += c));
          r.on("end", () => resolve({ status: r.statusCode ?? 0, body }));
        },
      );
      req.on("error", reject);
      req.end();
    });
  }

  /** A fetch dispatcher whose connections leave through this node's tailscaled (its HTTP outbound proxy). */
  proxyAgent(): ProxyAgent {
    return new ProxyAgent(`http://127.0.0.1:${this.httpProxyPort}`);
  }

  /** Stops tailscaled (SIGTERM, then SIGKILL after 5 s). */
  async stopDaemon(): Promise<void> {
    const child = this.daemon;
    this.daemon = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    // A namespaced node's tailscaled leads a process group with its bridges: stop them all.
    const signal = (sig: NodeJS.Signals) => (this.options.kernelTun && child.pid ? process.kill(-child.pid, sig) : child.kill(sig));
    signal("SIGTERM");
    const timer = setTimeout(() => signal("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
    if (this.options.kernelTun && child.pid) {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // the group is gone already
      }
    }
    for (const b of this.bridges.splice(0)) b.kill("SIGKILL");
  }

  daemonLog(): string {
    return this.log;
  }
}

export class Tailnet {
  readonly nodes: TailscaleNode[] = [];

  private constructor(
    readonly bins: Binaries,
    readonly info: LabInfo,
    private readonly lab: ChildProcess,
  ) {}

  /** Builds (or reuses) the binaries and starts tailnet-lab with these tag owners. */
  static async start(tagOwners: Record<string, string[]>, log: (line: string) => void = (l) => console.log(`# ${l}`)): Promise<Tailnet> {
    const bins = await buildTailnet(log);
    // stdin stays a pipe: the lab exits when it closes, so a crashed test never leaves a control server behind.
    const lab = spawn(bins.lab, [`--tag-owners=${JSON.stringify(tagOwners)}`], { stdio: ["pipe", "pipe", "inherit"] });
    const line = await new Promise<string>((resolve, reject) => {
      lab.once("error", reject);
      lab.once("exit", (code) => reject(new Error(`tailnet-lab exited (${code}) before printing its URLs`)));
      createInterface({ input: lab.stdout! }).once("line", resolve);
    });
    return new Tailnet(bins, LabInfo.parse(JSON.parse(line)), lab);
  }

  /** A node whose tailscaled runs but has not joined (`up`) yet. */
  async startNode(options: NodeOptions): Promise<TailscaleNode> {
    const node = new TailscaleNode(this, options, { socks: await freePort(), http: await freePort() });
    this.nodes.push(node);
    await node.startDaemon();
    return node;
  }

  async addNode(options: NodeOptions): Promise<TailscaleNode> {
    const node = await this.startNode(options);
    await node.up();
    return node;
  }

  /** Auth keys created through the lab's workload identity federation endpoints, as `tailscale up` asked for them. */
  async keyRequests(): Promise<KeyRequest[]> {
    return z.array(KeyRequest).parse(await this.labCall("GET", "/keys"));
  }

  /** The real tailscaled version string (`tailscaled --version`, first line). */
  async daemonVersion(): Promise<string> {
    const { stdout } = await run(this.bins.tailscaled, ["--version"]);
    return stdout.split("\n")[0]!.trim();
  }

  private async labCall(method: string, path: string, body?: unknown): Promise<unknown> {
    const res = await fetch(`${this.info.labURL}${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`tailnet-lab ${method} ${path}: ${res.status} ${text}`);
    return JSON.parse(text) as unknown;
  }

  async labNodes(): Promise<LabNode[]> {
    return z.array(LabNode).parse(await this.labCall("GET", "/nodes"));
  }

  /** Replaces the tailnet's app-capability grants; the control server pushes them to every node's map stream. */
  async setGrants(grants: readonly LabGrant[]): Promise<void> {
    await this.labCall("PUT", "/grants", grants);
  }

  async expireNode(hostname: string): Promise<void> {
    await this.labCall("POST", `/nodes/${encodeURIComponent(hostname)}/expire`);
  }

  async deleteNode(hostname: string): Promise<void> {
    await this.labCall("DELETE", `/nodes/${encodeURIComponent(hostname)}`);
  }

  async close(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stopDaemon()));
    for (const n of this.nodes) rmSync(n.dir, { recursive: true, force: true });
    const exited = new Promise((r) => this.lab.once("exit", r));
    this.lab.stdin?.end();
    if (this.lab.exitCode === null) await exited;
  }
}

export { waitFor };
