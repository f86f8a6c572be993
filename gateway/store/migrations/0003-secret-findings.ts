// Version 3 (issue 18): secrets found in traffic, one row per secret, place and call: the rule id and a fingerprint,
// never the secret.
import type { Kysely, Migration } from "kysely";
import type { Engine } from "./engine.js";

export function secretFindings(engine: Engine): Migration {
  const pg = engine === "postgres";
  const int = pg ? "bigint" : "integer";
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("secret_findings")
        .addColumn("id", pg ? "bigserial" : "integer", (c) => (pg ? c.primaryKey() : c.primaryKey().autoIncrement()))
        .addColumn("request_id", "text", (c) => c.notNull().references("requests.id").onDelete("cascade"))
        .addColumn("ts", int, (c) => c.notNull())
        .addColumn("principal", "text", (c) => c.notNull())
        .addColumn("session_id", "text")
        .addColumn("rule_id", "text", (c) => c.notNull())
        .addColumn("fingerprint", "text", (c) => c.notNull())
        .addColumn("verified", int)
        .addColumn("place", "text", (c) => c.notNull())
        .addColumn("call_id", "text")
        .addColumn("action", "text", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("secret_findings_request").on("secret_findings").column("request_id").execute();
      await db.schema.createIndex("secret_findings_session").on("secret_findings").column("session_id").execute();
    },
  };
}
