// Hono's typed context for the gateway: node-server bindings and the caller's identity.
import type { HttpBindings } from "@hono/node-server";
import type { Identity } from "./identity/types.js";

export type GatewayEnv = {
  Bindings: HttpBindings;
  Variables: { identity: Identity };
};
