// Identity comes from the network, so a web page open in the browser of someone on the tailnet could make requests
// that carry that person's identity (a confused deputy, as CSRF is with cookies). Browsers say where a request comes
// from; agents and SDKs send neither header. Cross-site writes are refused (as tailscale/setec refuses browsers);
// reads stay open because CORS keeps their answers from the page.
import type { MiddlewareHandler } from "hono";
import type { GatewayEnv } from "../env.js";

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

export function refuseCrossSite(refuse: (path: string, message: string) => Response): MiddlewareHandler<GatewayEnv> {
  return async function crossSiteGuard(c, next) {
    const reason = crossSiteReason(c.req.method, c.req.raw.headers);
    if (reason) return refuse(c.req.path, `cross-site browser request refused (${reason}): call the gateway from an agent, an SDK or curl`);
    await next();
  };
}
