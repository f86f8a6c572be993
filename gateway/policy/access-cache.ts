// Access depends only on the identity and the config, both immutable: compute it once per pair.
// (WhoIs identities are cached per connection, so a keep-alive connection evaluates its grants once.)
import type { Config } from "../config/schema.js";
import type { Identity } from "../identity/types.js";
import { type Access, accessUnder } from "./grants.js";

/** Distinct warnings remembered, so a tailnet grant's ignored Aperture fields are logged once, not per connection. */
const MAX_WARNED = 1000;

export class AccessCache {
  private readonly byConfig = new WeakMap<Config, WeakMap<Identity, Access>>();
  private readonly warned = new Set<string>();

  /** `warn` hears each tailnet grant value whose Aperture fields keyless ignores (the rest of the value applies). */
  constructor(private readonly warn: (message: string) => void = () => undefined) {}

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
      // Config grants were warned about at load; the tailnet policy's values are seen only here.
      for (const fields of access.ignored.filter((f) => f.startsWith("tailnet:"))) this.warnOnce(`grant of ${identity.principal}: Aperture fields keyless does not act on: ${fields}`);
    }
    return access;
  }

  private warnOnce(message: string): void {
    if (this.warned.has(message) || this.warned.size >= MAX_WARNED) return;
    this.warned.add(message);
    this.warn(message);
  }
}
