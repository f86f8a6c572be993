// Starts a real gateway (HTTP on loopback) with a fake tailscaled and a fake provider upstream behind it.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import net from "node:net";
import { Agent } from "undici";
import { parseConfigText } from "../../gateway/config/load.js";
import { type RunningGateway, startGateway } from "../../gateway/server.js";
import { type FakeTailscaled, type PeerSpec, startFakeTailscaled } from "../fakes/tailscaled.js";
import { type FakeUpstream, startFakeUpstream } from "../fakes/upstream.js";
import { testDatabaseConfig } from "./store.js";

/** Canary provider keys: tests assert they never show up anywhere a client or an operator can see. */
export const KEYS = {
  anthropic: "sk-ant-CANARY-anthropic-0123456789abcdef",
  openai: "sk-CANARY-openai-0123456789abcdef",
  gemini: "AIzaCANARY-gemini-0123456789abcdef",
} as const;

export interface Harness {
  readonly gateway: RunningGateway;
  readonly upstream: FakeUpstream;
  readonly tailscaled: FakeTailscaled;
  readonly dbPath: string;
  /** Set when started with `configFile`. */
  readonly configPath?: string;
  /** A fetch whose connections come from `localAddress` (a 127.0.0.x address = a distinct tailnet peer). */
  fetchFrom(localAddress: string): typeof fetch;
  close(): Promise<void>;
}

export interface HarnessOptions {
  readonly peers?: Readonly<Record<string, PeerSpec>>;
  /** The gateway node's own tailnet addresses, as the fake tailscaled reports them. */
  readonly selfIps?: readonly string[];
  /** Extra config, merged over the defaults (providers point at the fake upstream; the fake tailscaled's socket). */
  readonly config?: (upstreamUrl: string, tailscaledSocket: string) => Record<string, unknown>;
  /**
   * Serve from a config file in its own directory: enables the config API and reloads (watch debounce 50 ms).
   * ${ENV} references in it are read from process.env, as the gateway's reloads do.
   */
  readonly configFile?: boolean;
  /** A `database` section to share with other harnesses (replicas of one gateway); its owner drops it. */
  readonly database?: Record<string, unknown>;
  /** The request log's batching interval (default 20 ms) and queue limit. */
  readonly logIntervalMs?: number;
  readonly logQueueLimit?: number;
  /** Hears what the gateway logs (default: nothing). */
  readonly log?: (message: string) => void;
}

/** An undici Agent whose sockets bind to `localAddress` (undici's own connect options ignore localAddress). */
export function sourceAgent(localAddress: string, options: { connections?: number } = {}): Agent {
  return new Agent({
    ...options,
    connect: (opts, callback) => {
      const socket = net.connect({ host: opts.hostname, port: Number(opts.port), localAddress });
      socket.setNoDelay(true);
      socket.once("connect", () => callback(null, socket)).once("error", (err) => callback(err, null));
      return socket;
    },
  });
}

export function defaultProviders(upstreamUrl: string): Record<string, unknown> {
  return {
    anthropic: { type: "anthropic", baseurl: upstreamUrl, apikey: KEYS.anthropic, models: ["claude-*"] },
    openai: { type: "openai", baseurl: upstreamUrl, apikey: KEYS.openai, models: ["gpt-*", "o*"] },
    gemini: { type: "gemini", baseurl: upstreamUrl, apikey: KEYS.gemini, models: ["gemini-*"] },
  };
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const upstream = await startFakeUpstream({ keys: KEYS });
  const tailscaled = await startFakeTailscaled(options.peers ?? {}, options.selfIps ? { selfIps: options.selfIps } : {});
  const database = options.database
    ? { config: options.database, dbPath: "", drop: async () => undefined }
    : await testDatabaseConfig();
  const { dbPath } = database;
  const config = {
    identity: { type: "tailscale", socket: tailscaled.socketPath },
    providers: defaultProviders(upstream.url),
    grants: [{ src: ["*"], app: { "keyless.dev/cap/gateway": [{ role: "user", models: "**" }] } }],
    database: database.config,
    ...options.config?.(upstream.url, tailscaled.socketPath),
  };
  const text = JSON.stringify(config, null, 2);
  const configPath = options.configFile ? join(mkdtempSync(join(tmpdir(), "keyless-config-")), "keyless.jsonc") : undefined;
  if (configPath) writeFileSync(configPath, text);
  const loaded = parseConfigText(text, configPath ? process.env : {});
  const logQueue = { logIntervalMs: options.logIntervalMs ?? 20, ...(options.logQueueLimit ? { logQueueLimit: options.logQueueLimit } : {}) };
  const gateway = await startGateway({ loaded, listen: "127.0.0.1:0", ...logQueue, log: options.log ?? (() => undefined), configPath, configDebounceMs: 50 });
  const agents: Agent[] = [];
  return {
    gateway,
    upstream,
    tailscaled,
    dbPath,
    configPath,
    fetchFrom(localAddress) {
      const agent = sourceAgent(localAddress);
      agents.push(agent);
      return ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, { ...init, dispatcher: agent } as RequestInit)) as typeof fetch;
    },
    async close() {
      await gateway.close(1000);
      await Promise.all(agents.map((a) => a.close()));
      await upstream.close();
      await tailscaled.close();
      await database.drop();
    },
  };
}
