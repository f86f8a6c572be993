// A caller's network identity, taken once at the edge and then passed around as plain, frozen data.

export interface Identity {
  /** Who the caller is for grants and quotas: a login, the caller's tags sorted and joined with ",", or "(loopback)". */
  readonly principal: string;
  /** The user's login name; null for tagged nodes (tailscale's shared "tagged-devices" user is never a principal). */
  readonly login: string | null;
  /** Stable node id (tailscale StableID); null for loopback callers. */
  readonly nodeId: string | null;
  readonly nodeName: string | null;
  readonly tags: readonly string[];
  readonly groups: readonly string[];
  /** Capabilities the tailnet policy grants this caller toward the gateway (WhoIs CapMap). */
  readonly capMap: Readonly<Record<string, readonly unknown[]>>;
  /** The caller's address as seen by the gateway, "ip:port". */
  readonly addr: string;
}

export const LOOPBACK_PRINCIPAL = "(loopback)";

export type IdentityResult =
  | { readonly ok: true; readonly identity: Identity }
  | { readonly ok: false; readonly status: 403 | 503; readonly message: string };

export interface RemoteAddress {
  readonly address: string;
  readonly port: number;
}

/** Resolves who is on the other end of a connection. One implementation per identity source. */
export interface IdentityResolver {
  resolve(remote: RemoteAddress): Promise<IdentityResult>;
}

export function isLoopback(address: string): boolean {
  const a = address.replace(/^::ffff:/, "");
  return a === "::1" || a.startsWith("127.");
}

export function loopbackIdentity(remote: RemoteAddress): Identity {
  return Object.freeze({
    principal: LOOPBACK_PRINCIPAL,
    login: null,
    nodeId: null,
    nodeName: null,
    tags: Object.freeze([]),
    groups: Object.freeze([]),
    capMap: Object.freeze({}),
    addr: formatAddr(remote),
  });
}

export function formatAddr({ address, port }: RemoteAddress): string {
  const a = address.replace(/^::ffff:/, "");
  return a.includes(":") ? `[${a}]:${port}` : `${a}:${port}`;
}
