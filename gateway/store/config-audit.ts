// Who changed the config, when, how (API, SIGHUP, file watch) and what (a line diff with literal secrets redacted).
import type { Store } from "./db.js";
import type { ConfigChange } from "./schema.js";

export type { ConfigChange } from "./schema.js";
export type ConfigChangeSource = ConfigChange["source"];
/** A change as the history lists it: whether its text was kept (restorable), not the text. */
export type ConfigChangeSummary = Omit<ConfigChange, "text"> & { restorable: boolean };

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

  /** The newest changes first, without the texts (a diff says what changed; `get` has the text). */
  async list(limit = 50): Promise<ConfigChangeSummary[]> {
    await this.writes;
    return this.store.db
      .selectFrom("config_audit")
      .select(["id", "ts", "principal", "source", "old_hash", "new_hash", "diff"])
      .select((eb) => eb("text", "is not", null).as("restorable"))
      .orderBy("id", "desc")
      .limit(Math.min(Math.max(limit, 1), 500))
      .execute()
      .then((rows) => rows.map((r) => ({ ...r, restorable: Boolean(r.restorable) })));
  }

  async get(id: number): Promise<ConfigChange | null> {
    await this.writes;
    return (await this.store.db.selectFrom("config_audit").selectAll().where("id", "=", id).executeTakeFirst()) ?? null;
  }
}
