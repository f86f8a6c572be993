// Identity comes from the network, so a web page open in the browser of someone on the tailnet could make requests
// that carry that person's identity (a confused deputy, as CSRF is with cookies). Two guards:
// - cross-site writes are refused: browsers say where a request comes from (Sec-Fetch-Site, Origin); agents and SDKs
//   send neither header (as tailscale/setec refuses browsers); reads stay open because CORS keeps answers from the page;
// - DNS rebinding (an attacker's name resolving to the gateway, making the page "same-origin") is refused by the Host
//   header: only names this tailnet gives the gateway, addresses, localhost, and names the admin lists are served.
//   Any *.ts.net name is not enough: every tailnet's names end in ts.net, and an attacker's own tailnet can publish
//   one (Funnel) that resolves to anything.
import type { MiddlewareHandler } from "hono";
import type { GatewayEnv } from "./env.js";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Why a request looks like a cross-site browser write, or null. */
export function crossSiteReason(method: string, headers: Headers): string | null {
  if (SAFE_METHODS.has(method)) return null;
  const site = headers.get("sec-fetch-site");
  if (site && site !== "same-origin" && site !== "none") return `Sec-Fetch-Site: ${site}`;
  const origin = headers.get("origin");
  if (origin) {
    let host: string;
    try {
      host = new URL(origin).host;
    } catch {
      return `Origin: ${origin.slice(0, 100)}`;
    }
    if (host !== headers.get("host")) return `Origin: ${origin.slice(0, 100)}`;
  }
  return null;
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** The lowercased name of a Host header, without port, brackets or trailing dot. */
function hostName(hostHeader: string): string {
  const host = hostHeader.startsWith("[") ? hostHeader.slice(1, hostHeader.indexOf("]")) : hostHeader.replace(/:\d+$/, "");
  return host.toLowerCase().replace(/\.$/, "");
}

/**
 * Whether a Host header names this gateway in a way no outside DNS name can. `tailnetSuffix` is this tailnet's
 * MagicDNS suffix ("tail1234.ts.net"; null when unknown): names under it are served, other *.ts.net names are not.
 */
export function hostAllowed(hostHeader: string | null, allowed: readonly string[], tailnetSuffix: string | null): boolean {
  if (!hostHeader) return true;
  const name = hostName(hostHeader);
  if (IPV4.test(name) || name.includes(":")) return true;
  // MagicDNS short names have one label.
  if (name === "localhost" || !name.includes(".")) return true;
  if (tailnetSuffix !== null && name.endsWith(`.${tailnetSuffix}`)) return true;
  return allowed.some((a) => a.toLowerCase() === name);
}

export function refuseForeignHost(
  allowed: () => readonly string[],
  tailnetSuffix: () => Promise<string | null>,
  refuse: (path: string, message: string) => Response,
): MiddlewareHandler<GatewayEnv> {
  return async function hostGuard(c, next) {
    const host = c.req.header("host") ?? null;
    if (hostAllowed(host, allowed(), null)) return next();
    // Only a name no other rule admits needs the suffix (a LocalAPI read, cached).
    const suffix = await tailnetSuffix();
    if (!hostAllowed(host, allowed(), suffix)) {
      const why = suffix === null ? "" : ` (this tailnet's names end in ${suffix})`;
      return refuse(c.req.path, `requests for host "${host?.slice(0, 100)}" are refused (DNS rebinding guard)${why}; list the name in allowed_hosts to serve it`);
    }
    await next();
  };
}

export function refuseCrossSite(refuse: (path: string, message: string) => Response): MiddlewareHandler<GatewayEnv> {
  return async function crossSiteGuard(c, next) {
    const reason = crossSiteReason(c.req.method, c.req.raw.headers);
    if (reason) return refuse(c.req.path, `cross-site browser request refused (${reason}): call the gateway from an agent, an SDK or curl`);
    await next();
  };
}
