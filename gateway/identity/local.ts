// For a laptop: every loopback caller is "(loopback)"; nobody else may call, and nothing a proxy forwards either.
import {
  FUNNEL_REFUSED,
  type IdentityResolver,
  type IdentityResult,
  type RemoteAddress,
  forwarding,
  isLoopback,
  loopbackIdentity,
} from "./types.js";

/** Whether a listen host keeps a gateway on this machine: identity "local" refuses to start anywhere else. */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === "localhost" || isLoopback(hostname);
}

export function localResolver(): IdentityResolver {
  return {
    async resolve(remote: RemoteAddress): Promise<IdentityResult> {
      if (isLoopback(remote.address)) return { ok: true, identity: loopbackIdentity(remote) };
      return { ok: false, status: 403, message: `identity "local" accepts loopback callers only; ${remote.address} is not one` };
    },
    async request(_remote, headers, connection) {
      const fwd = forwarding(headers);
      if (fwd.funnel) return { ok: false, status: 403, message: FUNNEL_REFUSED, final: true };
      // tailscale serve (or any local reverse proxy) connects from loopback for callers elsewhere: they are not this
      // machine's user, so "(loopback)" must not cover them.
      if (fwd.proxied) {
        return {
          ok: false,
          status: 403,
          final: true,
          message:
            'identity "local" serves this machine only, and this request came through a reverse proxy (X-Forwarded-For, Forwarded or Tailscale-User-Login), such as tailscale serve; to serve a tailnet, use identity "tailscale"',
        };
      }
      return connection;
    },
    async tailnetSuffix() {
      return null;
    },
  };
}
