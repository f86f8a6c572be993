// Identity from tailscaled's LocalAPI WhoIs over its unix socket (tailscale/tailscale ipn/localapi).
import http from "node:http";
import { z } from "zod";
import {
  type Identity,
  type IdentityResolver,
  type IdentityResult,
  type RemoteAddress,
  formatAddr,
  isLoopback,
  loopbackIdentity,
} from "./types.js";

/** The subset of apitype.WhoIsResponse keyless reads. Node and UserProfile are never null on success. */
export const WhoIsResponse = z.object({
  Node: z.object({
    StableID: z.string().min(1),
    Name: z.string().default(""),
    Tags: z.array(z.string()).nullish(),
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

type WhoIsAnswer = { status: number; body: string };

function whoisRequest(socketPath: string, addr: string, timeoutMs: number): Promise<WhoIsAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        socketPath,
        method: "GET",
        path: `/localapi/v0/whois?addr=${encodeURIComponent(addr)}`,
        // tailscaled refuses any other Host, and any Origin or Referer.
        headers: { Host: "local-tailscaled.sock" },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end();
  });
}

export interface TailscaleResolverOptions {
  readonly socket: string;
  readonly timeoutMs: number;
}

export function tailscaleResolver({ socket, timeoutMs }: TailscaleResolverOptions): IdentityResolver {
  return {
    async resolve(remote: RemoteAddress): Promise<IdentityResult> {
      const addr = formatAddr(remote);
      let answer: WhoIsAnswer;
      try {
        answer = await whoisRequest(socket, addr, timeoutMs);
      } catch (err) {
        return { ok: false, status: 503, message: `cannot identify caller: tailscaled LocalAPI unreachable (${(err as Error).message})` };
      }
      if (answer.status === 404) {
        // Userspace networking shows tailnet peers as 127.0.0.1: only a loopback address WhoIs doesn't know is local.
        if (isLoopback(remote.address)) return { ok: true, identity: loopbackIdentity(remote) };
        return { ok: false, status: 403, message: `caller ${addr} is not a known tailnet peer` };
      }
      if (answer.status !== 200) {
        return { ok: false, status: 503, message: `cannot identify caller: tailscaled WhoIs answered ${answer.status}` };
      }
      let parsed: WhoIsResponse;
      try {
        parsed = WhoIsResponse.parse(JSON.parse(answer.body));
      } catch {
        return { ok: false, status: 503, message: "cannot identify caller: tailscaled WhoIs answer is malformed" };
      }
      const identity = identityFromWhoIs(parsed, remote);
      if (!identity) return { ok: false, status: 403, message: `caller ${addr} has neither a user nor tags` };
      return { ok: true, identity };
    },
  };
}
