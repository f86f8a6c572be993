// Version 2: what lets several replicas share one store. Outbox messages and pending check-run writes are claimed
// for a lease (claimed_by, claimed_until) so one replica works on each at a time and a dead replica's claims lapse;
// a message given up on stays as a dead letter (dead_at) until retention; `leases` holds singleton jobs (retention).
import { type Kysely, type Migration, sql } from "kysely";
import type { Engine } from "./engine.js";

export function claims(engine: Engine): Migration {
  const int = engine === "postgres" ? "bigint" : "integer";
  return {
    async up(db: Kysely<unknown>) {
      for (const table of ["hook_outbox", "ci_check_pending"]) {
        await db.schema.alterTable(table).addColumn("claimed_by", "text").execute();
        await db.schema.alterTable(table).addColumn("claimed_until", int).execute();
      }
      await db.schema.alterTable("hook_outbox").addColumn("dead_at", int).execute();
      await db.schema.dropIndex("hook_outbox_due").execute();
      await db.schema
        .createIndex("hook_outbox_due")
        .on("hook_outbox")
        .column("due_at")
        .where(sql.ref("dead_at"), "is", null)
        .execute();
      await db.schema
        .createTable("leases")
        .addColumn("name", "text", (c) => c.primaryKey())
        .addColumn("holder", "text", (c) => c.notNull())
        .addColumn("until", int, (c) => c.notNull())
        .execute();
    },
  };
}
