// One SQLite file in WAL mode. Each store module contributes its own CREATE statements.
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { Database } from "./sqlite.js";

export type Db = Database;

export function openDatabase(path: string, schemas: readonly string[]): Db {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  // NORMAL in WAL mode loses at most the last transactions on power loss, never corrupts; a crash of the process loses nothing committed.
  db.pragma("synchronous = NORMAL");
  db.pragma("busy_timeout = 5000");
  db.pragma("foreign_keys = ON");
  for (const sql of schemas) db.exec(sql);
  return db;
}
