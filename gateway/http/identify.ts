// Resolves the caller at the edge, before any body is read: its identity, and with it the Caller value (the config
// snapshot and what its grants entitle it to) that every handler and feature reads from c.var.caller.
// A connection's answer is cached per socket, not per IP: ephemeral CI nodes reuse addresses, while a connection's peer
// never changes. The entry expires so that tailnet policy changes (CapMap grants) reach long-lived connections.
// What a trusted local proxy forwards is checked per request: its pooled connections carry many callers.
import type { Socket } from "node:net";
import type { Context, MiddlewareHandler } from "hono";
import type { Caller } from "../access/caller.js";
import type { GatewayEnv } from "./env.js";
import { type Identity, type IdentityResolver, type IdentityResult, formatAddr } from "../identity/types.js";

const TTL_MS = 60_000;

export type IdentityRefusal = (c: Context<GatewayEnv>, status: 403 | 503, message: string) => Response;

/** An identity from a credential the request carries (CI session tokens); null when it carries none that is valid. */
export type CredentialIdentity = (request: Request, addr: string) => Identity | null;

export function identify(
  resolver: IdentityResolver,
  callerFor: (identity: Identity) => Caller,
  refuse: IdentityRefusal,
  credential?: CredentialIdentity,
): MiddlewareHandler<GatewayEnv> {
  const admit = (c: Context<GatewayEnv>, identity: Identity) => {
    c.set("identity", identity);
    c.set("caller", callerFor(identity));
  };
  const cache = new WeakMap<Socket, { result: IdentityResult; at: number }>();
  return async function identifyCaller(c, next) {
    const socket = c.env?.incoming?.socket;
    if (!socket?.remoteAddress || socket.remotePort === undefined) return refuse(c, 503, "cannot identify caller: no peer address");
    const remote = { address: socket.remoteAddress, port: socket.remotePort };
    const now = Date.now();
    let entry = cache.get(socket);
    if (!entry || now - entry.at > TTL_MS) {
      entry = { result: await resolver.resolve(remote), at: now };
      // An answer, yes or no, holds for the connection (behind tailscale serve that saves a WhoIs per request);
      // "unreachable" (503) may change on the next request.
      if (entry.result.ok || entry.result.status === 403) cache.set(socket, entry);
    }
    const result = await resolver.request(remote, c.req.raw.headers, entry.result);
    if (!result.ok) {
      if (result.final) return refuse(c, result.status, result.message);
      // Off the tailnet, only a credential identifies the caller; it is checked per request, never cached.
      const byCredential = credential?.(c.req.raw, formatAddr(remote));
      if (byCredential) {
        admit(c, byCredential);
        return next();
      }
      // The network says "not a tailnet peer": routes open to such callers (mountPublic) may still admit them by
      // other means; everything after them refuses. "Unknown" (503) is refused here.
      if (result.status === 403) {
        c.set("unidentified", result.message);
        return next();
      }
      return refuse(c, result.status, result.message);
    }
    // A tailnet node is who it is; a credential only stands in for callers without a node ("(loopback)" on a laptop).
    const byCredential = result.identity.nodeId === null ? credential?.(c.req.raw, result.identity.addr) : null;
    admit(c, byCredential ?? result.identity);
    await next();
  };
}

/** After the routes open to unidentified callers: everything else needs an identity. */
export function requireIdentity(refuse: IdentityRefusal): MiddlewareHandler<GatewayEnv> {
  return async function identified(c, next) {
    const why = c.get("unidentified");
    if (why !== undefined) return refuse(c, 403, why);
    await next();
  };
}
