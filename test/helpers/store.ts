// The store under test: SQLite in a temporary file by default; a throwaway PostgreSQL database per store when
// KEYLESS_TEST_DATABASE=postgres (.ci/run runs the suite both ways). Raw SQL for assertions runs on either engine.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CompiledQuery } from "kysely";
import { type Store, openStore } from "../../gateway/store/db.js";
import { createTestDatabase } from "./postgres.js";

export const TEST_ENGINE: "sqlite" | "postgres" = process.env.KEYLESS_TEST_DATABASE === "postgres" ? "postgres" : "sqlite";

/** The `database` config section for one test gateway, and how to drop what it made. */
export async function testDatabaseConfig(): Promise<{ config: Record<string, unknown>; dbPath: string; drop(): Promise<void> }> {
  const dbPath = join(mkdtempSync(join(tmpdir(), "keyless-db-")), "keyless.db");
  if (TEST_ENGINE === "sqlite") return { config: { path: dbPath }, dbPath, drop: async () => undefined };
  const pg = await createTestDatabase();
  return { config: { type: "postgres", url: pg.url, pool_size: 10 }, dbPath, drop: () => pg.drop() };
}

export interface TestStore extends Store {
  /** Closes the store and drops its database. */
  dispose(): Promise<void>;
}

/** A migrated store of the engine under test. */
export async function openTestStore(): Promise<TestStore> {
  const { config, drop } = await testDatabaseConfig();
  const store = await openStore({ type: "sqlite", pool_size: 4, path: "", ...config } as Parameters<typeof openStore>[0]);
  return {
    ...store,
    dispose: async () => {
      await store.close();
      await drop();
    },
  };
}

/** Runs `text` with `?` placeholders on either engine. */
export async function all<T>(store: Pick<Store, "db" | "engine">, text: string, ...params: unknown[]): Promise<T[]> {
  let n = 0;
  const compiled = store.engine === "postgres" ? text.replace(/\?/g, () => `$${++n}`) : text;
  const result = await store.db.executeQuery<T>(CompiledQuery.raw(compiled, params));
  return [...result.rows];
}

export async function one<T>(store: Pick<Store, "db" | "engine">, text: string, ...params: unknown[]): Promise<T | undefined> {
  return (await all<T>(store, text, ...params))[0];
}
