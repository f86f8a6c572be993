// For a laptop: every loopback caller is "(loopback)"; nobody else may call.
import { type IdentityResolver, type IdentityResult, type RemoteAddress, isLoopback, loopbackIdentity } from "./types.js";

export function localResolver(): IdentityResolver {
  return {
    async resolve(remote: RemoteAddress): Promise<IdentityResult> {
      if (isLoopback(remote.address)) return { ok: true, identity: loopbackIdentity(remote) };
      return { ok: false, status: 403, message: `identity "local" accepts loopback callers only; ${remote.address} is not one` };
    },
  };
}
