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
  | {
      readonly ok: false;
      readonly status: 403 | 503;
      readonly message: string;
      /** Refused outright: no credential and no route open to unidentified callers may admit the request (Funnel). */
      readonly final?: boolean;
    };

export interface RemoteAddress {
  readonly address: string;
  readonly port: number;
}

/** Resolves who is on the other end of a connection. One implementation per identity source. */
export interface IdentityResolver {
  /** Who the connection's peer is; the answer holds for the connection (the middleware reuses it). */
  resolve(remote: RemoteAddress): Promise<IdentityResult>;
  /**
   * Per request, given the connection's answer: a request a local reverse proxy forwarded is refused, or (for a
   * trusted proxy) identified by the address it was forwarded for. Never cached: a proxy's pooled connection carries
   * requests of many callers.
   */
  request(remote: RemoteAddress, headers: Headers, connection: IdentityResult): Promise<IdentityResult>;
  /** This tailnet's MagicDNS suffix ("tail1234.ts.net"), or null when unknown or not on a tailnet. */
  tailnetSuffix(): Promise<string | null>;
}

/**
 * What a local reverse proxy says about a request. tailscaled's serve proxy sets X-Forwarded-For to the caller's
 * address and, for Funnel traffic, Tailscale-Funnel-Request, deleting any copies the caller sent
 * (tailscale/tailscale ipn/ipnlocal/serve.go addProxyForwardedHeaders, addTailscaleIdentityHeaders).
 */
export interface Forwarding {
  readonly funnel: boolean;
  /** The X-Forwarded-For value, or null. */
  readonly forwardedFor: string | null;
  /** Whether any proxy header is present (X-Forwarded-For, Forwarded, Tailscale-User-Login, Funnel). */
  readonly proxied: boolean;
}

export function forwarding(headers: Headers): Forwarding {
  const funnel = headers.has("tailscale-funnel-request");
  const forwardedFor = headers.get("x-forwarded-for");
  const proxied = funnel || forwardedFor !== null || headers.has("forwarded") || headers.has("tailscale-user-login");
  return { funnel, forwardedFor, proxied };
}

export const FUNNEL_REFUSED =
  "requests through Tailscale Funnel are refused: keyless identifies callers by their tailnet node, and a Funnel caller is anyone on the internet";

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
