// keyless db migrate | status | copy: the store's schema version, and moving an SQLite gateway into PostgreSQL.
import { parseArgs } from "node:util";
import { sql } from "kysely";
import type { DatabaseConfig } from "../config/schema.js";
import { type Store, connectStore, openStore } from "./db.js";
import { migrateToLatest, migrationStatus } from "./migrate.js";
import type { Tables } from "./schema.js";

export const DB_USAGE = `  keyless db migrate [--config FILE]                  (applies pending schema migrations; serve does too)
  keyless db status [--config FILE]                   (applied and pending migrations)
  keyless db copy --from FILE.db --to postgres://…    (copies an SQLite gateway's history and balances)`;

export interface DbCommandIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /** The `database` section of the config (`--config`), or the defaults. */
  readonly database: (configPath: string | undefined) => DatabaseConfig;
}

/**
 * Tables in dependency order (a row's parent is copied before it), each with its key: rows already in the target are
 * kept, so an interrupted copy can run again. Leases are per deployment and not copied.
 */
const COPY_ORDER: readonly { table: Exclude<keyof Tables, "leases">; key: string; serial?: boolean }[] = [
  { table: "requests", key: "id" },
  { table: "captures", key: "request_id" },
  { table: "tool_calls", key: "id", serial: true },
  { table: "ci_sessions", key: "id" },
  { table: "ci_oidc_jti", key: "jti" },
  { table: "quota_buckets", key: "bucket" },
  { table: "quota_charges", key: "request_id, bucket" },
  { table: "quota_refills", key: "id", serial: true },
  { table: "config_audit", key: "id", serial: true },
  { table: "outbox", key: "id", serial: true },
  { table: "export_batches", key: "id" },
  { table: "export_queue", key: "request_id" },
];

const BATCH = 500;

/** Copies every row of `from` into `to` (both migrated); returns rows copied per table. */
export async function copyStore(from: Store, to: Store, progress: (line: string) => void = () => undefined): Promise<Record<string, number>> {
  const copied: Record<string, number> = {};
  for (const { table, key, serial } of COPY_ORDER) {
    let offset = 0;
    let inserted = 0;
    for (;;) {
      const rows = await from.db
        .selectFrom(table)
        .selectAll()
        .orderBy(sql.raw(key))
        .limit(BATCH)
        .offset(offset)
        .execute();
      if (rows.length === 0) break;
      offset += rows.length;
      const result = await sql`INSERT INTO ${sql.table(table)} ${sql.raw(`(${Object.keys(rows[0]!).join(", ")})`)}
        VALUES ${sql.join(rows.map((r) => sql`(${sql.join(Object.values(r))})`))}
        ON CONFLICT (${sql.raw(key)}) DO NOTHING`.execute(to.db);
      inserted += Number(result.numAffectedRows ?? 0);
    }
    // Ids were copied as they were: move the sequence past them so new rows do not collide.
    if (serial && to.engine === "postgres") {
      await sql`SELECT setval(pg_get_serial_sequence(${table}, 'id'), GREATEST((SELECT COALESCE(MAX(id), 0) FROM ${sql.table(table)}), 1))`.execute(to.db);
    }
    copied[table] = inserted;
    progress(`${table}: ${inserted} of ${offset} rows copied${inserted < offset ? " (the rest were there already)" : ""}`);
  }
  return copied;
}

export async function runDbCommand(args: readonly string[], io: DbCommandIo): Promise<number> {
  const [sub, ...rest] = args;
  const { values } = parseArgs({
    args: [...rest],
    options: { config: { type: "string", short: "c" }, from: { type: "string" }, to: { type: "string" } },
  });
  if (sub === "migrate" || sub === "status") {
    const store = connectStore(io.database(values.config));
    try {
      if (sub === "migrate") {
        const applied = await migrateToLatest(store);
        io.out(`${store.where}: ${applied.length ? `applied ${applied.join(", ")}` : "up to date"}\n`);
      } else {
        for (const m of await migrationStatus(store)) {
          io.out(`${m.name}  ${m.executedAt ? `applied ${m.executedAt.toISOString()}` : "pending"}\n`);
        }
      }
      return 0;
    } finally {
      await store.close();
    }
  }
  if (sub === "copy") {
    if (!values.from || !values.to || !/^postgres(ql)?:\/\//.test(values.to)) {
      io.err(`usage:\n${DB_USAGE}\n`);
      return 2;
    }
    const from = await openStore({ type: "sqlite", path: values.from, pool_size: 1 });
    try {
      const to = await openStore({ type: "postgres", url: values.to, pool_size: 2, path: "" });
      try {
        await copyStore(from, to, (line) => io.out(`${line}\n`));
        io.out(`copied ${from.where} into ${to.where}\n`);
      } finally {
        await to.close();
      }
    } finally {
      await from.close();
    }
    return 0;
  }
  io.err(`usage:\n${DB_USAGE}\n`);
  return 2;
}
