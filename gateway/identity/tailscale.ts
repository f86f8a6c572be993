// Identity from tailscaled's LocalAPI WhoIs over its unix socket (tailscale/tailscale ipn/localapi).
import http from "node:http";
import { isIP } from "node:net";
import { z } from "zod";
import {
  FUNNEL_REFUSED,
  type Identity,
  type IdentityResolver,
  type IdentityResult,
  type RemoteAddress,
  formatAddr,
  forwarding,
  isLoopback,
} from "./types.js";
import type { TrustedProxy } from "../config/schema.js";

/** The subset of apitype.WhoIsResponse keyless reads. Node and UserProfile are never null on success. */
export const WhoIsResponse = z.object({
  Node: z.object({
    StableID: z.string().min(1),
    Name: z.string().default(""),
    Tags: z.array(z.string()).nullish(),
    Expired: z.boolean().optional(),
  }),
  UserProfile: z.object({
    LoginName: z.string(),
    Groups: z.array(z.string()).nullish(),
  }),
  CapMap: z.record(z.string(), z.array(z.unknown()).nullable()).nullish(),
});
export type WhoIsResponse = z.infer<typeof WhoIsResponse>;

const TAGGED_DEVICES = "tagged-devices";

export function identityFromWhoIs(who: WhoIsResponse, remote: RemoteAddress): Identity | null {
  const tags = [...(who.Node.Tags ?? [])].sort();
  const login = who.UserProfile.LoginName;
  // A tagged node's identity is its tags; the shared tagged-devices pseudo-user must never become a principal.
  if (tags.length === 0 && (login === "" || login === TAGGED_DEVICES)) return null;
  const capMap: Record<string, readonly unknown[]> = {};
  for (const [cap, values] of Object.entries(who.CapMap ?? {})) capMap[cap] = Object.freeze([...(values ?? [])]);
  return Object.freeze({
    principal: tags.length > 0 ? tags.join(",") : login,
    login: tags.length > 0 ? null : login,
    nodeId: who.Node.StableID,
    nodeName: who.Node.Name.replace(/\.$/, "") || null,
    tags: Object.freeze(tags),
    groups: Object.freeze([...(who.UserProfile.Groups ?? [])]),
    capMap: Object.freeze(capMap),
    addr: formatAddr(remote),
  });
}

export type LocalApiAnswer = { readonly status: number; readonly body: string };

/** Status answers carry the node's own record; a bounded read keeps a misbehaving socket from growing memory. */
const MAX_ANSWER_BYTES = 1024 * 1024;

/** GET on tailscaled's LocalAPI over its unix socket (whois, status?peers=false), bounded in time and size. */
export function localApiGet(socketPath: string, path: string, timeoutMs: number): Promise<LocalApiAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        socketPath,
        method: "GET",
        path,
        // tailscaled refuses any other Host, and any Origin or Referer.
        headers: { Host: "local-tailscaled.sock" },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          size += c.byteLength;
          if (size > MAX_ANSWER_BYTES) req.destroy(new Error(`answer larger than ${MAX_ANSWER_BYTES} bytes`));
          else chunks.push(c);
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end();
  });
}

/**
 * The part of ipnstate.Status keyless reads: the tailnet's MagicDNS suffix (CurrentTailnet's, else the legacy field)
 * and this node's own tailnet addresses.
 */
const StatusResponse = z.object({
  MagicDNSSuffix: z.string().nullish(),
  CurrentTailnet: z.object({ MagicDNSSuffix: z.string().nullish() }).nullish(),
  TailscaleIPs: z.array(z.string()).nullish(),
});

interface TailnetStatus {
  readonly suffix: string | null;
  readonly addresses: ReadonlySet<string>;
}

const UNPLACED =
  'a local reverse proxy such as `tailscale serve` (or a local process) cannot be identified; listen on the tailnet address and call it from other nodes, or set identity.trusted_proxy: "tailscale-serve" to identify callers by the address tailscale serve forwards';

const bareAddress = (address: string) => address.replace(/^::ffff:/, "").toLowerCase();

export interface TailscaleResolverOptions {
  readonly socket: string;
  readonly timeoutMs: number;
  /** A local reverse proxy whose X-Forwarded-For names the caller (tailscaled's own serve proxy only). */
  readonly trustedProxy?: TrustedProxy;
}

const STATUS_TTL_MS = 5 * 60_000;

/** WhoIs of an address ("ip:port" for a connection, a bare IP for a forwarded caller). */
async function whoisAt(socket: string, timeoutMs: number, addr: string, remote: RemoteAddress, unknown: string): Promise<IdentityResult> {
  let answer: LocalApiAnswer;
  try {
    answer = await localApiGet(socket, `/localapi/v0/whois?addr=${encodeURIComponent(addr)}`, timeoutMs);
  } catch (err) {
    return { ok: false, status: 503, message: `cannot identify caller: tailscaled LocalAPI unreachable (${(err as Error).message})` };
  }
  if (answer.status === 404) return { ok: false, status: 403, message: unknown };
  if (answer.status !== 200) {
    return { ok: false, status: 503, message: `cannot identify caller: tailscaled WhoIs answered ${answer.status}` };
  }
  let parsed: WhoIsResponse;
  try {
    parsed = WhoIsResponse.parse(JSON.parse(answer.body));
  } catch {
    return { ok: false, status: 503, message: "cannot identify caller: tailscaled WhoIs answer is malformed" };
  }
  // A peer whose key expired still answers WhoIs (tailscaled keeps its tunnel up); its identity is no longer vouched for.
  if (parsed.Node.Expired) return { ok: false, status: 403, message: `caller ${formatAddr(remote)} is a tailnet node whose key has expired` };
  const identity = identityFromWhoIs(parsed, remote);
  if (!identity) return { ok: false, status: 403, message: `caller ${formatAddr(remote)} has neither a user nor tags` };
  return { ok: true, identity };
}

export function tailscaleResolver({ socket, timeoutMs, trustedProxy }: TailscaleResolverOptions): IdentityResolver {
  const whois = (addr: string, remote: RemoteAddress, unknown: string) => whoisAt(socket, timeoutMs, addr, remote, unknown);

  let status: { value: TailnetStatus; at: number } | null = null;
  /** This node's tailnet (cached; only a known answer is kept, so "unknown" asks again next time). */
  async function self(): Promise<TailnetStatus | null> {
    if (status && Date.now() - status.at < STATUS_TTL_MS) return status.value;
    try {
      const answer = await localApiGet(socket, "/localapi/v0/status?peers=false", timeoutMs);
      const parsed = answer.status === 200 ? StatusResponse.safeParse(JSON.parse(answer.body)) : null;
      if (!parsed?.success) return null;
      const suffix = (parsed.data.CurrentTailnet?.MagicDNSSuffix ?? parsed.data.MagicDNSSuffix ?? "").toLowerCase().replace(/^\.|\.$/g, "");
      const value = { suffix: suffix || null, addresses: new Set((parsed.data.TailscaleIPs ?? []).map(bareAddress)) };
      status = { value, at: Date.now() };
      return value;
    } catch {
      return null;
    }
  }

  /**
   * A connection from this machine: loopback, or the node's own tailnet address (WhoIs names the gateway's own node
   * for that, so a local process, or tailscale serve with a 100.x backend, would otherwise be the node's owner).
   * Null while tailscaled cannot say which addresses are its own.
   */
  async function fromThisHost(remote: RemoteAddress): Promise<boolean | null> {
    const tailnet = await self();
    if (tailnet?.addresses.has(bareAddress(remote.address))) return true;
    return isLoopback(remote.address) ? true : tailnet === null ? null : false;
  }

  return {
    async resolve(remote: RemoteAddress): Promise<IdentityResult> {
      const addr = formatAddr(remote);
      const tailnet = await self();
      if (tailnet === null) return { ok: false, status: 503, message: "cannot identify caller: tailscaled LocalAPI unreachable or not running (no status answer)" };
      if (tailnet.addresses.has(bareAddress(remote.address))) {
        return { ok: false, status: 403, message: `caller ${addr} is this gateway's own tailnet address: ${UNPLACED}` };
      }
      // Userspace networking forwards tailnet peers from 127.0.0.1 and registers them, so WhoIs knows them; a loopback
      // connection it cannot place is a local process or a local reverse proxy (tailscale serve, Funnel): never an
      // identity of its own.
      const unknown = isLoopback(remote.address) ? `caller ${addr} is a loopback connection tailscaled cannot place: ${UNPLACED}` : `caller ${addr} is not a known tailnet peer`;
      return whois(addr, remote, unknown);
    },

    async request(remote, headers, connection) {
      const fwd = forwarding(headers);
      // tailscaled's proxy sets this on Funnel traffic and deletes callers' copies; anyone else who sends it asks to
      // be refused, so the rule needs no exception.
      if (fwd.funnel) return { ok: false, status: 403, message: FUNNEL_REFUSED, final: true };
      if ((await fromThisHost(remote)) !== true) return connection;
      if (connection.ok || connection.status !== 403 || trustedProxy !== "tailscale-serve") return connection;
      const forwardedFor = fwd.forwardedFor?.trim() ?? "";
      if (forwardedFor === "") {
        return { ok: false, status: 403, message: `caller ${formatAddr(remote)} on this host carries no X-Forwarded-For: with trusted_proxy "tailscale-serve", this host's connections serve only requests tailscale serve forwards` };
      }
      // tailscale serve sets exactly one address (the caller's); anything else did not come from it.
      if (isIP(forwardedFor) === 0) {
        return { ok: false, status: 403, message: `X-Forwarded-For "${forwardedFor.slice(0, 100)}" is not the single address tailscale serve sends` };
      }
      const caller = { address: forwardedFor, port: 0 };
      return whois(forwardedFor, caller, `caller ${forwardedFor} (forwarded by tailscale serve) is not a known tailnet peer`);
    },

    async tailnetSuffix() {
      return (await self())?.suffix ?? null;
    },
  };
}
