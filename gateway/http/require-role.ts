// Role checks for keyless's own API, from the same grants as the provider routes.
import type { Context } from "hono";
import type { Config } from "../config/schema.js";
import type { GatewayEnv } from "./env.js";
import { type Access, accessUnder } from "../access/grants.js";
import { apiError } from "./api-error.js";

export function callerAccess(c: Context<GatewayEnv>, config: Config): Access {
  return accessUnder(c.var.identity, config);
}

/** Returns a 403 response unless the caller holds `role` (admin satisfies user). */
export function requireRole(c: Context<GatewayEnv>, config: Config, role: "admin" | "user"): Response | null {
  const access = callerAccess(c, config);
  if (access.role === "admin" || (role === "user" && access.role === "user")) return null;
  return apiError(c, 403, "forbidden", access.role === null ? "access denied: no role granted" : `access denied: role ${role} required`);
}
