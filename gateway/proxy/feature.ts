// A feature that plugs into the gateway: its part of the request pipeline, and its own routes.
import type { Hono } from "hono";
import type { GatewayEnv } from "../http/env.js";
import type { ExchangePlugin } from "./exchange.js";

export interface GatewayModule {
  readonly name: string;
  readonly plugin?: ExchangePlugin;
  /** Mounts routes that run after identity resolution (c.var.identity and c.var.caller are set). */
  mount?(app: Hono<GatewayEnv>): void;
  /**
   * Mounts routes that also run for callers the network refused (c.var.unidentified set, c.var.identity not): they
   * authenticate by other means, answer, or call next() (which refuses unidentified callers).
   */
  mountPublic?(app: Hono<GatewayEnv>): void;
}
