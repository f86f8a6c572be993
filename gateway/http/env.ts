// Hono's typed context for the gateway: node-server bindings and the caller's identity.
import type { HttpBindings } from "@hono/node-server";
import type { Identity } from "../identity/types.js";

export type GatewayEnv = {
  Bindings: HttpBindings;
  Variables: {
    identity: Identity;
    /** Set instead of identity for a caller the network refused, while it passes the routes open to such callers. */
    unidentified: string | undefined;
    /** The largest body this request may have (413 beyond it). */
    bodyLimit: number;
  };
};
