// Resolves the caller once per connection, at the edge; handlers read only c.var.identity.
// Cached per socket, not per IP: ephemeral CI nodes reuse addresses, while a connection's peer never changes.
// The cache entry expires so that tailnet policy changes (CapMap grants) reach long-lived connections.
import type { Socket } from "node:net";
import type { Context, MiddlewareHandler } from "hono";
import type { GatewayEnv } from "../env.js";
import { type Identity, type IdentityResolver, formatAddr } from "./types.js";

const TTL_MS = 60_000;

export type IdentityRefusal = (c: Context<GatewayEnv>, status: 403 | 503, message: string) => Response;

/** An identity from a credential the request carries (CI session tokens); null when it carries none that is valid. */
export type CredentialIdentity = (request: Request, addr: string) => Identity | null;

export function identify(resolver: IdentityResolver, refuse: IdentityRefusal, credential?: CredentialIdentity): MiddlewareHandler<GatewayEnv> {
  const cache = new WeakMap<Socket, { identity: Identity; at: number }>();
  return async function identifyCaller(c, next) {
    const socket = c.env?.incoming?.socket;
    if (!socket?.remoteAddress || socket.remotePort === undefined) return refuse(c, 503, "cannot identify caller: no peer address");
    const now = Date.now();
    let entry = cache.get(socket);
    if (!entry || now - entry.at > TTL_MS) {
      const result = await resolver.resolve({ address: socket.remoteAddress, port: socket.remotePort });
      if (!result.ok) {
        // Off the tailnet, only a credential identifies the caller; it is checked per request, never cached.
        const byCredential = credential?.(c.req.raw, formatAddr({ address: socket.remoteAddress, port: socket.remotePort }));
        if (!byCredential) return refuse(c, result.status, result.message);
        c.set("identity", byCredential);
        return next();
      }
      entry = { identity: result.identity, at: now };
      cache.set(socket, entry);
    }
    // A tailnet node is who it is; a credential only stands in for callers without a node (loopback, e.g. behind Funnel).
    const byCredential = entry.identity.nodeId === null ? credential?.(c.req.raw, entry.identity.addr) : null;
    c.set("identity", byCredential ?? entry.identity);
    await next();
  };
}
