// A fake tailscaled LocalAPI on a unix socket that answers WhoIs exactly as tailscaled does
// (tailscale/tailscale ipn/localapi: Host check, 400 on bad addr, 404 "no match for IP:port"; an address without a
// port is looked up as IP:0), and status (ipnstate.Status without peers: the tailnet's MagicDNS suffix).
import http from "node:http";
import { isIP } from "node:net";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface PeerSpec {
  readonly login?: string;
  readonly tags?: readonly string[];
  readonly nodeId?: string;
  /** As tailscaled reports a peer whose node key expired (it still answers WhoIs). */
  readonly expired?: boolean;
  readonly name?: string;
  readonly groups?: readonly string[];
  readonly capMap?: Readonly<Record<string, readonly unknown[]>>;
}

export interface FakeTailscaled {
  readonly socketPath: string;
  /** Every `addr` WhoIs was asked about. */
  readonly lookups: string[];
  setPeer(ip: string, peer: PeerSpec | null): void;
  close(): Promise<void>;
}

let nodeCounter = 1000;

/** A WhoIsResponse with the field set of tailcfg.Node / UserProfile, as tailscaled serializes it. */
export function whoisResponse(ip: string, peer: PeerSpec): unknown {
  const id = nodeCounter++;
  const tagged = (peer.tags?.length ?? 0) > 0;
  return {
    Node: {
      ID: id,
      StableID: peer.nodeId ?? `n${id}CNTRL`,
      Name: peer.name ?? `node-${id}.tail1234.ts.net.`,
      User: 4455667788,
      Key: `nodekey:${"a".repeat(64)}`,
      KeyExpiry: "0001-01-01T00:00:00Z",
      Machine: `mkey:${"b".repeat(64)}`,
      DiscoKey: `discokey:${"c".repeat(64)}`,
      Addresses: [`${ip}/32`],
      AllowedIPs: [`${ip}/32`],
      Endpoints: [],
      HomeDERP: 1,
      Hostinfo: { OS: "linux", Hostname: "runner" },
      Created: "2026-11-26T10:00:00Z",
      Cap: 130,
      ...(tagged ? { Tags: peer.tags } : {}),
      ...(peer.expired ? { Expired: true } : {}),
      Online: true,
      MachineAuthorized: true,
      ComputedName: "runner",
      ComputedNameWithHost: "runner",
    },
    UserProfile: tagged
      ? { ID: 1234567, LoginName: "tagged-devices", DisplayName: "Tagged Devices", ProfilePicURL: "" }
      : { ID: 7654321, LoginName: peer.login ?? "someone@example.com", DisplayName: "Someone", ProfilePicURL: "", ...(peer.groups ? { Groups: peer.groups } : {}) },
    CapMap: peer.capMap ?? {},
  };
}

/** The tailnet the fake belongs to (whoisResponse's node names end in it). */
export const TAILNET_SUFFIX = "tail1234.ts.net";

/** ipnstate.Status as `GET /localapi/v0/status?peers=false` serializes it (the fields around the ones keyless reads). */
function statusResponse(selfIps: readonly string[]): unknown {
  return {
    Version: "1.94.2-fake",
    TUN: true,
    BackendState: "Running",
    HaveNodeKey: true,
    AuthURL: "",
    TailscaleIPs: selfIps,
    Self: { ID: "nGATEWAY", HostName: "ai-gateway", DNSName: `ai-gateway.${TAILNET_SUFFIX}.`, OS: "linux", Tags: ["tag:ai-gateway"], Online: true },
    Health: [],
    MagicDNSSuffix: TAILNET_SUFFIX,
    CurrentTailnet: { Name: "example.com", MagicDNSSuffix: TAILNET_SUFFIX, MagicDNSEnabled: true },
    CertDomains: [`ai-gateway.${TAILNET_SUFFIX}`],
    Peer: null,
    User: null,
    ClientVersion: null,
  };
}

export interface FakeTailscaledOptions {
  /** The node's own tailnet addresses (status TailscaleIPs); WhoIs of one names the node itself, give it a peer too. */
  readonly selfIps?: readonly string[];
}

export async function startFakeTailscaled(peers: Readonly<Record<string, PeerSpec>> = {}, options: FakeTailscaledOptions = {}): Promise<FakeTailscaled> {
  const selfIps = options.selfIps ?? ["100.100.1.1", "fd7a:115c:a1e0::1"];
  const table = new Map<string, unknown>(Object.entries(peers).map(([ip, p]) => [ip, whoisResponse(ip, p)]));
  const lookups: string[] = [];
  const socketPath = join(mkdtempSync(join(tmpdir(), "keyless-ts-")), "tailscaled.sock");
  const server = http.createServer((req, res) => {
    const send = (status: number, body: string, type = "text/plain; charset=utf-8") => {
      res.writeHead(status, { "content-type": type, "tailscale-version": "1.94.2-fake" });
      res.end(body);
    };
    if (req.headers.host !== "local-tailscaled.sock" || req.headers.origin || req.headers.referer) return send(403, "invalid localapi request\n");
    const url = new URL(req.url ?? "/", "http://local-tailscaled.sock");
    if (url.pathname === "/localapi/v0/status") return send(200, JSON.stringify(statusResponse(selfIps), null, "\t"), "application/json");
    if (url.pathname !== "/localapi/v0/whois") return send(404, "404 page not found\n");
    const addr = url.searchParams.get("addr");
    if (!addr) return send(400, "missing 'addr' parameter\n");
    lookups.push(addr);
    const m = isIP(addr) !== 0 ? [addr, addr] : /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(addr);
    if (!m) return send(400, "invalid 'addr' parameter\n");
    const ip = (m[1] ?? m[2])!;
    const who = table.get(ip);
    if (!who) return send(404, `no match for IP:port\n`);
    send(200, JSON.stringify(who), "application/json");
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return {
    socketPath,
    lookups,
    setPeer(ip, peer) {
      if (peer) table.set(ip, whoisResponse(ip, peer));
      else table.delete(ip);
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
