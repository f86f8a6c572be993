import type { IdentityConfig } from "../config/schema.js";
import { isLoopbackHost, localResolver } from "./local.js";
import { tailscaleResolver } from "./tailscale.js";
import type { IdentityResolver } from "./types.js";

export function createResolver(config: IdentityConfig): IdentityResolver {
  switch (config.type) {
    case "tailscale":
      return tailscaleResolver({ socket: config.socket, timeoutMs: config.timeout, ...(config.trusted_proxy ? { trustedProxy: config.trusted_proxy } : {}) });
    case "local":
      return localResolver();
  }
}

/** Why the gateway must not listen on `hostname` with this identity source, or null. */
export function listenProblem(config: IdentityConfig, hostname: string): string | null {
  if (config.type !== "local" || isLoopbackHost(hostname)) return null;
  return `identity "local" makes every caller an unauthenticated "(loopback)" and must listen on a loopback address (127.0.0.1, ::1, localhost), not "${hostname}"; on a tailnet use identity "tailscale"`;
}

/** Said loudly at startup: a tailscale gateway on loopback sees tailnet callers only through userspace networking. */
export function listenWarning(config: IdentityConfig, hostname: string): string | null {
  if (config.type !== "tailscale" || config.trusted_proxy || !isLoopbackHost(hostname)) return null;
  return `listening on ${hostname} with identity "tailscale": only peers tailscaled forwards in userspace-networking mode can be identified here; requests through tailscale serve or another local proxy are refused (behind tailscale serve, set identity.trusted_proxy: "tailscale-serve"; docs/security.md)`;
}
