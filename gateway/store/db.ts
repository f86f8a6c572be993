// The gateway's store: one Kysely over either an embedded SQLite file (WAL mode; the default, one machine, no setup) or
// a PostgreSQL database shared by every replica. Opening runs the pending migrations (migrate.ts) first.
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { Kysely, PostgresDialect, type SqliteDatabase, SqliteDialect } from "kysely";
import pg from "pg";
import type { DatabaseConfig } from "../config/schema.js";
import { describePostgresUrl } from "../config/quota-store.js";
import { migrateToLatest } from "./migrate.js";
import type { Engine, Kdb } from "./schema.js";
export type { Engine } from "./schema.js";
import { Database } from "./sqlite.js";

export interface Store {
  readonly engine: Engine;
  readonly db: Kdb;
  /** Where it is, without credentials (logs, `keyless db status`). */
  readonly where: string;
  close(): Promise<void>;
}

export type StoreLocation = Pick<DatabaseConfig, "type" | "path" | "url" | "pool_size">;

// BIGINT (int8) and NUMERIC (what SUM over BIGINT returns) arrive from pg as strings; every value keyless stores
// (epoch milliseconds, nanodollars, token counts) is far below 2^53, so numbers are exact.
const pgTypes = {
  getTypeParser(oid: number, format?: "text" | "binary") {
    if (oid === pg.types.builtins.INT8 || oid === pg.types.builtins.NUMERIC) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format as "text");
  },
} as pg.CustomTypesConfig;

export function postgresPool(url: string, size: number, timeoutMs = 5000): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: size,
    types: pgTypes,
    connectionTimeoutMillis: timeoutMs,
    statement_timeout: timeoutMs * 2,
  });
  // A connection the server dropped (restart, failover): an idle one is replaced by the pool; one in use fails its
  // query, which reports the outage. Either way the error event must not go unheard (it would end the process).
  pool.on("error", () => undefined);
  pool.on("connect", (client) => client.on("error", () => undefined));
  return pool;
}

/**
 * Kysely's SQLite driver prepares every query anew, and compiling the SQL cost more than running it (13 % of the
 * gateway's CPU under load, `npm run bench`). Statements are kept per SQL text, bounded (a few queries build their
 * SQL from filters). A kept statement is busy while iterated; keyless never streams a query.
 */
function keepingStatements(db: Database): SqliteDatabase {
  const statements = new Map<string, ReturnType<Database["prepare"]>>();
  return {
    close: () => db.close(),
    prepare(sql) {
      let statement = statements.get(sql);
      if (!statement) {
        if (statements.size >= 500) statements.clear();
        statement = db.prepare(sql);
        statements.set(sql, statement);
      }
      return statement;
    },
  };
}

export function openSqlite(path: string): Kdb {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  // NORMAL in WAL mode loses at most the last transactions on power loss, never corrupts; a crash of the process loses nothing committed.
  db.pragma("synchronous = NORMAL");
  db.pragma("busy_timeout = 5000");
  db.pragma("foreign_keys = ON");
  return new Kysely({ dialect: new SqliteDialect({ database: keepingStatements(db) }) });
}

/** Opens the store without migrating (for `keyless db status`). */
export function connectStore(location: StoreLocation): Store {
  if (location.type === "postgres") {
    const url = location.url ?? "";
    const db = new Kysely({ dialect: new PostgresDialect({ pool: postgresPool(url, location.pool_size) }) }) as Kdb;
    return { engine: "postgres", db, where: `postgres ${describePostgresUrl(url)}`, close: () => db.destroy() };
  }
  const db = openSqlite(location.path) as Kdb;
  return { engine: "sqlite", db, where: `sqlite ${location.path}`, close: () => db.destroy() };
}

/** Opens the store and brings its schema up to date (under the migration lock, so replicas starting at once agree). */
export async function openStore(location: StoreLocation): Promise<Store> {
  const store = connectStore(location);
  try {
    await migrateToLatest(store);
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}

/** The engine a connection or transaction talks to, for the few statements that differ. */
export function isPostgres(store: Pick<Store, "engine">): boolean {
  return store.engine === "postgres";
}
