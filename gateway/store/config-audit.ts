// Who changed the config, when, how (API, SIGHUP, file watch) and what (a line diff with literal secrets redacted).
import type { Store } from "./db.js";
import type { ConfigChange } from "./schema.js";

export type { ConfigChange } from "./schema.js";
export type ConfigChangeSource = ConfigChange["source"];

export class ConfigAudit {
  /** Writes in order; a listing waits for the ones already recorded. */
  private writes: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {}

  record(change: Omit<ConfigChange, "id">): Promise<void> {
    this.writes = this.writes.then(async () => {
      await this.store.db.insertInto("config_audit").values(change).execute();
    }).catch(this.onError);
    return this.writes;
  }

  async list(limit = 50): Promise<ConfigChange[]> {
    await this.writes;
    return this.store.db
      .selectFrom("config_audit")
      .selectAll()
      .orderBy("id", "desc")
      .limit(Math.min(Math.max(limit, 1), 500))
      .execute();
  }
}
