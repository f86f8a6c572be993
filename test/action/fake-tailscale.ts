// Stand-in `tailscale` and `tailscaled` executables: they record their arguments and act out the daemon's states.
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface FakeTailscaleConfig {
  /** "running": a daemon answers from the start; "down": only once the stand-in tailscaled was started. */
  daemon: "running" | "down";
  /** Printed by `tailscale version`. */
  version: string;
  /** When set, `tailscale up` fails with this on stderr (the first `upFailures` times, or always). */
  upError?: string;
  /** With upError: how many `tailscale up` calls fail before one succeeds; unset, all of them. */
  upFailures?: number;
  /** How each peer answers `tailscale ping -c 1`; a peer not listed never answers. */
  peers?: Record<string, "direct" | "derp">;
  /** BackendState before `up` when the daemon answers. */
  initialState: "NeedsLogin" | "Running";
}

export interface FakeCall {
  tool: "tailscale" | "tailscaled";
  args: string[];
  /** For each `--flag=file:PATH` argument: what PATH held when the CLI ran (as the CLI reads it) and its mode. */
  files?: Record<string, { content: string; mode: number }>;
}

export interface FakeTailscale {
  /** Directory holding the two executables (put it on PATH, or pack it as a release tarball). */
  readonly binDir: string;
  readonly dir: string;
  configure(c: Partial<FakeTailscaleConfig>): void;
  /** Every invocation so far, in order. */
  calls(): FakeCall[];
  /** Pid of the stand-in tailscaled, if one was started. */
  daemonPid(): number | null;
  /** Forgets the login (as a fresh runner would have none). */
  resetState(): void;
}

const SCRIPT = (tool: string, dir: string) => `#!${process.execPath}
const fs = require("node:fs");
const path = require("node:path");
const dir = ${JSON.stringify(dir)};
const args = process.argv.slice(2);
const files = {};
for (const a of args) {
  const m = /^--([a-z-]+)=file:(.*)$/.exec(a);
  if (m) files[m[1]] = { content: fs.readFileSync(m[2], "utf8").trim(), mode: fs.statSync(m[2]).mode & 0o777 };
}
fs.appendFileSync(path.join(dir, "calls.jsonl"), JSON.stringify({ tool: ${JSON.stringify(tool)}, args, ...(Object.keys(files).length ? { files } : {}) }) + "\\n");
const config = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8"));
const stateFile = path.join(dir, "state.json");
const state = fs.existsSync(stateFile) ? JSON.parse(fs.readFileSync(stateFile, "utf8")) : { backend: config.initialState };
const save = () => fs.writeFileSync(stateFile, JSON.stringify(state));
const pidFile = path.join(dir, "daemon.pid");
const daemonUp = () => {
  if (config.daemon === "running") return true;
  if (!fs.existsSync(pidFile)) return false;
  try { process.kill(Number(fs.readFileSync(pidFile, "utf8")), 0); return true; } catch { return false; }
};
${tool === "tailscaled" ? TAILSCALED : TAILSCALE}
`;

// \`tailscale up\` flags as tailscale.com v1.102.3 defines them (cmd/tailscale/cli/up.go); the real CLI refuses others.
const UP_FLAGS = [
  "qr", "qr-format", "auth-key", "audience", "client-id", "client-secret", "id-token", "login-server", "accept-routes",
  "accept-dns", "host-routes", "exit-node", "exit-node-allow-lan-access", "shields-up", "ssh", "advertise-tags", "hostname",
  "advertise-routes", "advertise-connector", "advertise-exit-node", "report-posture", "operator", "snat-subnet-routes",
  "stateful-filtering", "netfilter-mode", "unattended", "timeout", "nickname", "json", "reset", "force-reauth",
];

const TAILSCALE = `
const UP_FLAGS = ${JSON.stringify(UP_FLAGS)};
const [cmd] = args;
if (cmd === "version") { console.log(config.version + "\\n  tailscale commit: fake\\n  go version: go1.25"); process.exit(0); }
if (!daemonUp()) { console.error("failed to connect to local tailscaled; it doesn't appear to be running"); process.exit(1); }
if (cmd === "status") {
  const self = state.backend === "Running" ? { HostName: state.hostname, TailscaleIPs: ["100.101.102.103"], Tags: state.tags } : null;
  console.log(JSON.stringify({ Version: config.version, BackendState: state.backend, Self: self }));
  process.exit(0);
}
if (cmd === "up") {
  for (const a of args.slice(1)) {
    const name = /^--([^=]+)/.exec(a)?.[1];
    if (!UP_FLAGS.includes(name)) { console.error("flag provided but not defined: -" + name); process.exit(2); }
  }
  state.upAttempts = (state.upAttempts || 0) + 1; save();
  if (config.upError && state.upAttempts <= (config.upFailures ?? Infinity)) { console.error(config.upError); process.exit(1); }
  const flag = (n) => (args.find((a) => a.startsWith("--" + n + "=")) || "").slice(n.length + 3);
  state.backend = "Running"; state.hostname = flag("hostname"); state.tags = flag("advertise-tags").split(",");
  save(); process.exit(0);
}
if (cmd === "ping") {
  const host = args.at(-1);
  const how = (config.peers || {})[host];
  if (how === "direct") { console.log("pong from " + host + " (100.64.0.9) via 10.0.0.9:41641 in 3ms"); process.exit(0); }
  if (how === "derp") { console.log("pong from " + host + " (100.64.0.9) via DERP(fra) in 30ms"); console.error("direct connection not established"); process.exit(1); }
  console.error("timeout waiting for ping reply"); process.exit(1);
}
if (cmd === "logout") { state.backend = "NeedsLogin"; save(); process.exit(0); }
console.error("fake tailscale: unsupported command " + cmd); process.exit(2);
`;

const TAILSCALED = `
if (args.includes("--cleanup")) process.exit(0);
fs.writeFileSync(pidFile, String(process.pid));
const stop = () => { try { fs.unlinkSync(pidFile); } catch {} process.exit(0); };
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
console.log("fake tailscaled: listening");
setInterval(() => {}, 1 << 30);
`;

export function fakeTailscale(root: string, config: Partial<FakeTailscaleConfig> = {}): FakeTailscale {
  const dir = join(root, "fake-tailscale");
  const binDir = join(dir, "bin");
  mkdirSync(binDir, { recursive: true });
  let current: FakeTailscaleConfig = { daemon: "running", version: "1.94.2", initialState: "NeedsLogin", ...config };
  const writeConfig = () => writeFileSync(join(dir, "config.json"), JSON.stringify(current));
  writeConfig();
  for (const tool of ["tailscale", "tailscaled"]) {
    writeFileSync(join(binDir, tool), SCRIPT(tool, dir));
    chmodSync(join(binDir, tool), 0o755);
  }
  return {
    binDir,
    dir,
    configure(c) {
      current = { ...current, ...c };
      writeConfig();
    },
    calls() {
      const file = join(dir, "calls.jsonl");
      if (!existsSync(file)) return [];
      return readFileSync(file, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as FakeCall);
    },
    resetState() {
      rmSync(join(dir, "state.json"), { force: true });
    },
    daemonPid() {
      const file = join(dir, "daemon.pid");
      return existsSync(file) ? Number(readFileSync(file, "utf8")) : null;
    },
  };
}
