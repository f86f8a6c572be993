// Who changed the config, when, how (API, SIGHUP, file watch) and what (a line diff with literal secrets redacted).
import type { Db } from "./db.js";

export const CONFIG_AUDIT_SCHEMA = `
CREATE TABLE IF NOT EXISTS config_audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  ts INTEGER NOT NULL,
  principal TEXT,
  source TEXT NOT NULL,
  old_hash TEXT NOT NULL,
  new_hash TEXT NOT NULL,
  diff TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS config_audit_ts ON config_audit (ts);
`;

export type ConfigChangeSource = "api" | "sighup" | "watch";

export interface ConfigChange {
  readonly id: number;
  readonly ts: number;
  /** The admin who changed it through the API; null for reloads of the file (edited on the host). */
  readonly principal: string | null;
  readonly source: ConfigChangeSource;
  readonly old_hash: string;
  readonly new_hash: string;
  readonly diff: string;
}

export class ConfigAudit {
  constructor(private readonly db: Db) {}

  record(change: Omit<ConfigChange, "id">): void {
    this.db
      .prepare("INSERT INTO config_audit (ts, principal, source, old_hash, new_hash, diff) VALUES (@ts, @principal, @source, @old_hash, @new_hash, @diff)")
      .run(change);
  }

  list(limit = 50): ConfigChange[] {
    return this.db.prepare("SELECT * FROM config_audit ORDER BY id DESC LIMIT ?").all(Math.min(Math.max(limit, 1), 500)) as ConfigChange[];
  }
}
