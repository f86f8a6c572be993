import type { IdentityConfig } from "../config/schema.js";
import { localResolver } from "./local.js";
import { tailscaleResolver } from "./tailscale.js";
import type { IdentityResolver } from "./types.js";

export function createResolver(config: IdentityConfig): IdentityResolver {
  switch (config.type) {
    case "tailscale":
      return tailscaleResolver({ socket: config.socket, timeoutMs: config.timeout });
    case "local":
      return localResolver();
  }
}
