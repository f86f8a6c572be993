// Hono's typed context for the gateway: node-server bindings and the caller (its identity and what it may do).
import type { HttpBindings } from "@hono/node-server";
import type { Caller } from "../access/caller.js";
import type { Identity } from "../identity/types.js";

/** Set by the WebSocket module on an upgrade request: the route that accepts it calls `accept`. */
export interface WebSocketAccept {
  accept(): void;
}

export type GatewayEnv = {
  Bindings: HttpBindings & { websocket?: WebSocketAccept };
  Variables: {
    identity: Identity;
    /** The caller with its config snapshot and entitlements; set with identity, never changed after. */
    caller: Caller;
    /** Set instead of identity for a caller the network refused, while it passes the routes open to such callers. */
    unidentified: string | undefined;
    /** The largest body this request may have (413 beyond it). */
    bodyLimit: number;
  };
};
