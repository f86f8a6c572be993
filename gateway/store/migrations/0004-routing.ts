// Version 4: what routing and budget alerts keep. `request_attempts`: every upstream attempt of a request that did not
// simply succeed at its first target (which target, which key, why it fell over or was skipped). `budget_alerts`: each
// alert threshold a bucket crossed, once per refill period, with the request and CI session that crossed it.
import { type Kysely, type Migration, sql } from "kysely";
import type { Engine } from "./engine.js";

export function routing(engine: Engine): Migration {
  const int = engine === "postgres" ? "bigint" : "integer";
  const real = engine === "postgres" ? "double precision" : "real";
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("request_attempts")
        .addColumn("request_id", "text", (c) => c.notNull())
        .addColumn("n", "integer", (c) => c.notNull())
        .addColumn("provider", "text", (c) => c.notNull())
        .addColumn("model", "text", (c) => c.notNull())
        .addColumn("key_name", "text")
        .addColumn("outcome", "text", (c) => c.notNull())
        .addColumn("status", "integer")
        .addColumn("reason", "text")
        .addColumn("duration_ms", sql.raw(real), (c) => c.notNull())
        .addPrimaryKeyConstraint("request_attempts_pk", ["request_id", "n"])
        .execute();
      await db.schema
        .createTable("budget_alerts")
        .addColumn("id", engine === "postgres" ? "bigserial" : "integer", (c) => (engine === "postgres" ? c.primaryKey() : c.primaryKey().autoIncrement()))
        .addColumn("bucket", "text", (c) => c.notNull())
        .addColumn("quota", "text", (c) => c.notNull())
        .addColumn("threshold", "integer", (c) => c.notNull())
        .addColumn("ts", int, (c) => c.notNull())
        .addColumn("spent_nanos", int, (c) => c.notNull())
        .addColumn("capacity_nanos", int, (c) => c.notNull())
        .addColumn("request_id", "text", (c) => c.notNull())
        .addColumn("session_id", "text")
        .addColumn("principal", "text", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("budget_alerts_bucket").on("budget_alerts").columns(["bucket", "threshold", "ts"]).execute();
      await db.schema.createIndex("budget_alerts_session").on("budget_alerts").column("session_id").execute();
    },
  };
}
