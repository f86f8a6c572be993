// Identity comes from the network, so the browser of an admin on the tailnet carries the admin's authority to any page
// that makes it send a request (CSRF without cookies). Beyond the cross-site guard (Sec-Fetch-Site, Origin), a browser's
// state-changing call must repeat a token that only the gateway's own pages know: double-submitted, once in a
// SameSite=Strict cookie (never sent from another site) and once in a header the UI's script copies from the page.
// Agents, SDKs and curl send no browser headers and need no token, as the cross-site guard treats them.
import { randomBytes, timingSafeEqual } from "node:crypto";
import type { Context, MiddlewareHandler } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import type { GatewayEnv } from "./env.js";

export const CSRF_COOKIE = "keyless_csrf";
export const CSRF_HEADER = "x-keyless-csrf";
const TOKEN = /^[A-Za-z0-9_-]{43}$/;
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** The page's token: the caller's existing cookie (so open tabs keep working), or a new one set on this response. */
export function csrfToken(c: Context<GatewayEnv>): string {
  const existing = getCookie(c, CSRF_COOKIE);
  if (existing !== undefined && TOKEN.test(existing)) return existing;
  const token = randomBytes(32).toString("base64url");
  setCookie(c, CSRF_COOKIE, token, { path: "/", sameSite: "Strict", httpOnly: true });
  return token;
}

/** Browsers send Sec-Fetch-Site (or, older ones, Origin) on every write; agents and SDKs send none (Node's fetch sends Sec-Fetch-Mode only). */
const fromBrowser = (headers: Headers) => headers.has("sec-fetch-site") || headers.has("origin") || headers.has("cookie");

function sameToken(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined || !TOKEN.test(a) || !TOKEN.test(b)) return false;
  return timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

/** Why a browser's state-changing request lacks the UI's token, or null. */
export function csrfReason(c: Context<GatewayEnv>): string | null {
  if (SAFE_METHODS.has(c.req.method) || !fromBrowser(c.req.raw.headers)) return null;
  if (sameToken(getCookie(c, CSRF_COOKIE), c.req.header(CSRF_HEADER))) return null;
  return `a browser's ${c.req.method} needs the ${CSRF_HEADER} header the gateway's own pages send (reload the page)`;
}

export function refuseWithoutCsrfToken(refuse: (c: Context<GatewayEnv>, message: string) => Response): MiddlewareHandler<GatewayEnv> {
  return async function csrfGuard(c, next) {
    const reason = csrfReason(c);
    if (reason) return refuse(c, `request refused: ${reason}`);
    await next();
  };
}
