// Versioned, forward-only migrations. Kysely's Migrator records applied versions in kysely_migration and holds its
// lock while it runs (pg_advisory_xact_lock on PostgreSQL, a lock row on SQLite), so replicas starting together apply
// each version once. A database newer than this build is refused rather than guessed at.
import { type Migration, type MigrationProvider, type MigrationResultSet, Migrator } from "kysely";
import { initial } from "./migrations/0001-initial.js";
import { claims } from "./migrations/0002-claims.js";
import { secretFindings } from "./migrations/0003-secret-findings.js";
import { routing } from "./migrations/0004-routing.js";
import { configAuditText } from "./migrations/0005-config-audit-text.js";
import { exportQueue } from "./migrations/0006-export.js";
import { oneOutbox } from "./migrations/0007-one-outbox.js";
import type { Engine, Kdb } from "./schema.js";

/** What migrating needs of an open store (db.ts's Store has it). */
type Migratable = { readonly engine: Engine; readonly db: Kdb };

/** Every version, in order (a test builds a database as an older version left it). */
export function migrations(engine: Engine): Record<string, Migration> {
  return {
    "0001-initial": initial(engine),
    "0002-claims": claims(engine),
    "0003-secret-findings": secretFindings(engine),
    "0004-routing": routing(engine),
    "0005-config-audit-text": configAuditText(),
    "0006-export": exportQueue(engine),
    "0007-one-outbox": oneOutbox(engine),
  };
}

function migrator(store: Migratable): Migrator {
  const provider: MigrationProvider = { getMigrations: async () => migrations(store.engine) };
  return new Migrator({ db: store.db, provider });
}

function check(result: MigrationResultSet): string[] {
  if (result.error) {
    const failed = result.results?.find((r) => r.status === "Error")?.migrationName;
    const cause = result.error instanceof Error ? result.error.message : String(result.error);
    // No migration named: the database could not be reached or locked, and the cause says so.
    throw new Error(failed ? `database migration ${failed} failed: ${cause}` : cause, { cause: result.error });
  }
  return (result.results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
}

/** Applies every pending migration; returns the names applied now. */
export async function migrateToLatest(store: Migratable): Promise<string[]> {
  return check(await migrator(store).migrateToLatest());
}

export interface MigrationStatus {
  readonly name: string;
  readonly executedAt: Date | null;
}

export async function migrationStatus(store: Migratable): Promise<MigrationStatus[]> {
  return (await migrator(store).getMigrations()).map((m) => ({ name: m.name, executedAt: m.executedAt ?? null }));
}
