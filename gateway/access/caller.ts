// Access depends only on the identity and the config, both immutable: compute it once per pair.
// (WhoIs identities are cached per connection, so a keep-alive connection evaluates its grants once.)
import type { Config } from "../config/schema.js";
import type { Identity } from "../identity/types.js";
import { type Access, accessUnder } from "./grants.js";

export class AccessCache {
  private readonly byConfig = new WeakMap<Config, WeakMap<Identity, Access>>();

  get(identity: Identity, config: Config): Access {
    let byIdentity = this.byConfig.get(config);
    if (!byIdentity) {
      byIdentity = new WeakMap();
      this.byConfig.set(config, byIdentity);
    }
    let access = byIdentity.get(identity);
    if (!access) {
      access = accessUnder(identity, config);
      byIdentity.set(identity, access);
    }
    return access;
  }
}
