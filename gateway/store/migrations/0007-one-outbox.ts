// Version 7 (issue 15): one durable outbox for webhook messages, check-run writes and quota settlements, which had a
// table each (hook_outbox, ci_check_pending, quota_settlements_pending) with three claim and backoff schemes. A row
// is one item of a kind under a key (the message id, the CI session id, the request id): unique per (kind, key), so
// the row itself is the claim that gives each item one worker at a time across replicas. Rows move over intact and the
// old tables are dropped.
import { type Kysely, type Migration, sql } from "kysely";
import type { Engine } from "./engine.js";

export function oneOutbox(engine: Engine): Migration {
  const pg = engine === "postgres";
  const int = pg ? "bigint" : "integer";
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("outbox")
        .addColumn("id", pg ? "bigserial" : "integer", (c) => (pg ? c.primaryKey() : c.primaryKey().autoIncrement()))
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("key", "text", (c) => c.notNull())
        .addColumn("hook", "text")
        .addColumn("event", "text")
        .addColumn("payload", "text", (c) => c.notNull().defaultTo(""))
        .addColumn("created_at", int, (c) => c.notNull())
        .addColumn("due_at", int, (c) => c.notNull())
        .addColumn("attempts", int, (c) => c.notNull().defaultTo(0))
        .addColumn("last_status", int)
        .addColumn("last_error", "text")
        .addColumn("claimed_by", "text")
        .addColumn("claimed_until", int)
        .addColumn("dead_at", int)
        .addUniqueConstraint("outbox_kind_key", ["kind", "key"])
        .execute();
      await db.schema.createIndex("outbox_claim").on("outbox").columns(["kind", "dead_at", "due_at"]).execute();
      await db.schema.createIndex("outbox_dead").on("outbox").column("dead_at").where(sql.ref("dead_at"), "is not", null).execute();

      await sql`INSERT INTO outbox (kind, key, hook, event, payload, created_at, due_at, attempts, last_status, last_error, claimed_by, claimed_until, dead_at)
        SELECT 'webhook', msg_id, hook, event, payload, created_at, due_at, attempts, last_status, last_error, claimed_by, claimed_until, dead_at
        FROM hook_outbox ORDER BY id`.execute(db);
      await sql`INSERT INTO outbox (kind, key, payload, created_at, due_at, attempts, last_error, claimed_by, claimed_until)
        SELECT 'check_run', session_id, '', since, due_at, attempts, last_error, claimed_by, claimed_until
        FROM ci_check_pending ORDER BY due_at`.execute(db);
      // The settlement's payload is the JSON quotas/settlements.ts reads: the lines were JSON text already.
      await sql`INSERT INTO outbox (kind, key, payload, created_at, due_at)
        SELECT 'settlement', request_id,
          '{"lines":' || lines || ',"charged":' || charged_nanos || ',"atReservation":' || CASE WHEN at_reservation = 1 THEN 'true' ELSE 'false' END || '}',
          ts, ts
        FROM quota_settlements_pending ORDER BY ts`.execute(db);

      await db.schema.dropTable("hook_outbox").execute();
      await db.schema.dropTable("ci_check_pending").execute();
      await db.schema.dropTable("quota_settlements_pending").execute();
    },
  };
}
