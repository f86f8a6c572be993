// Role checks for keyless's own API, from the same grants as the provider routes (read once, in c.var.caller).
import type { MiddlewareHandler } from "hono";
import type { Role } from "../access/grants.js";
import { apiError } from "./api-error.js";
import type { GatewayEnv } from "./env.js";

/** Whether the caller holds `role` (admin satisfies user). */
export function holdsRole(held: Role | null, role: Role): boolean {
  return held === "admin" || (role === "user" && held === "user");
}

/** Refuses with a 403 unless the caller holds `role`. */
export function requireRole(role: Role): MiddlewareHandler<GatewayEnv> {
  return async function roleRequired(c, next) {
    const held = c.var.caller.role;
    if (!holdsRole(held, role)) return apiError(c, 403, "forbidden", held === null ? "access denied: no role granted" : `access denied: role ${role} required`);
    await next();
  };
}
