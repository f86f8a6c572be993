// Version 1: the schema every keyless release before migrations created, so a database made by one of them passes
// through unchanged (IF NOT EXISTS) and continues from here. On PostgreSQL integers are BIGINT (epoch milliseconds and
// nanodollars), ids BIGSERIAL, bodies BYTEA; the quota tables may exist already from `quota_store: postgres`, whose
// at_reservation was a BOOLEAN.
import { type ColumnDataType, type Kysely, type Migration, sql } from "kysely";
import type { Engine } from "./engine.js";

// Every table is created through Kysely<unknown>: a migration describes the schema at its own version, not today's.
export function initial(engine: Engine): Migration {
  const pg = engine === "postgres";
  const int: ColumnDataType = pg ? "bigint" : "integer";
  const real: ColumnDataType = pg ? "double precision" : "real";
  const blob: ColumnDataType = pg ? "bytea" : "blob";
  const serialId = (db: Kysely<unknown>, table: string) =>
    db.schema
      .createTable(table)
      .ifNotExists()
      .addColumn("id", pg ? "bigserial" : "integer", (c) => (pg ? c.primaryKey() : c.primaryKey().autoIncrement()));
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("requests")
        .ifNotExists()
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("ts", int, (c) => c.notNull())
        .addColumn("principal", "text", (c) => c.notNull())
        .addColumn("login", "text")
        .addColumn("node_id", "text")
        .addColumn("node_name", "text")
        .addColumn("tags", "text", (c) => c.notNull().defaultTo("[]"))
        .addColumn("session_id", "text")
        .addColumn("client_session", "text")
        .addColumn("user_agent", "text")
        .addColumn("provider", "text")
        .addColumn("model", "text")
        .addColumn("route", "text", (c) => c.notNull())
        .addColumn("method", "text", (c) => c.notNull())
        .addColumn("path", "text", (c) => c.notNull())
        .addColumn("status", int, (c) => c.notNull())
        .addColumn("duration_ms", real, (c) => c.notNull())
        .addColumn("ttfb_ms", real)
        .addColumn("streamed", int, (c) => c.notNull().defaultTo(0))
        .addColumn("input_tokens", int, (c) => c.notNull().defaultTo(0))
        .addColumn("cache_read_tokens", int, (c) => c.notNull().defaultTo(0))
        .addColumn("cache_write_tokens", int, (c) => c.notNull().defaultTo(0))
        .addColumn("output_tokens", int, (c) => c.notNull().defaultTo(0))
        .addColumn("reasoning_tokens", int, (c) => c.notNull().defaultTo(0))
        .addColumn("cost_nanos", int)
        .addColumn("tool_calls", int, (c) => c.notNull().defaultTo(0))
        .addColumn("denial", "text")
        .addColumn("error", "text")
        .addColumn("flags", "text", (c) => c.notNull().defaultTo("[]"))
        .execute();
      await db.schema.createIndex("requests_ts").ifNotExists().on("requests").column("ts").execute();
      await db.schema.createIndex("requests_principal_ts").ifNotExists().on("requests").columns(["principal", "ts"]).execute();
      await db.schema
        .createIndex("requests_session")
        .ifNotExists()
        .on("requests")
        .column("session_id")
        .where(sql.ref("session_id"), "is not", null)
        .execute();

      await db.schema
        .createTable("captures")
        .ifNotExists()
        .addColumn("request_id", "text", (c) => c.primaryKey().references("requests.id").onDelete("cascade"))
        .addColumn("ts", int, (c) => c.notNull())
        .addColumn("request_headers", "text", (c) => c.notNull())
        .addColumn("request_body", blob)
        .addColumn("request_truncated", int, (c) => c.notNull().defaultTo(0))
        .addColumn("response_headers", "text", (c) => c.notNull())
        .addColumn("response_body", blob)
        .addColumn("response_truncated", int, (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.createIndex("captures_ts").ifNotExists().on("captures").column("ts").execute();

      await serialId(db, "tool_calls")
        .addColumn("request_id", "text", (c) => c.notNull().references("requests.id").onDelete("cascade"))
        .addColumn("parent_id", int, (c) => c.references("tool_calls.id").onDelete("cascade"))
        .addColumn("position", int, (c) => c.notNull())
        .addColumn("ts", int, (c) => c.notNull())
        .addColumn("principal", "text", (c) => c.notNull())
        .addColumn("session_id", "text")
        .addColumn("client_session", "text")
        .addColumn("call_id", "text", (c) => c.notNull())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("mcp_server", "text")
        .addColumn("mcp_tool", "text")
        .addColumn("command", "text")
        .addColumn("paths", "text")
        .addColumn("arguments", "text")
        .addColumn("findings", "text", (c) => c.notNull().defaultTo("[]"))
        .addColumn("action", "text", (c) => c.notNull())
        .addColumn("result_request_id", "text")
        .addColumn("result_ts", int)
        .addColumn("result_error", int)
        .addColumn("result_text", "text")
        .execute();
      await db.schema.createIndex("tool_calls_request").ifNotExists().on("tool_calls").column("request_id").execute();
      await db.schema.createIndex("tool_calls_ts").ifNotExists().on("tool_calls").column("ts").execute();
      await db.schema.createIndex("tool_calls_principal_call").ifNotExists().on("tool_calls").columns(["principal", "call_id"]).execute();
      await db.schema
        .createIndex("tool_calls_session")
        .ifNotExists()
        .on("tool_calls")
        .column("session_id")
        .where(sql.ref("session_id"), "is not", null)
        .execute();

      await serialId(db, "hook_outbox")
        .addColumn("msg_id", "text", (c) => c.notNull().unique())
        .addColumn("hook", "text", (c) => c.notNull())
        .addColumn("event", "text", (c) => c.notNull())
        .addColumn("payload", "text", (c) => c.notNull())
        .addColumn("created_at", int, (c) => c.notNull())
        .addColumn("due_at", int, (c) => c.notNull())
        .addColumn("attempts", int, (c) => c.notNull().defaultTo(0))
        .addColumn("last_status", int)
        .addColumn("last_error", "text")
        .execute();
      await db.schema.createIndex("hook_outbox_due").ifNotExists().on("hook_outbox").column("due_at").execute();

      await db.schema
        .createTable("ci_sessions")
        .ifNotExists()
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("node_id", "text", (c) => c.notNull())
        .addColumn("repository", "text", (c) => c.notNull())
        .addColumn("repository_id", "text", (c) => c.notNull())
        .addColumn("owner", "text", (c) => c.notNull())
        .addColumn("owner_id", "text", (c) => c.notNull())
        .addColumn("pr_number", int)
        .addColumn("head_sha", "text")
        .addColumn("sha", "text", (c) => c.notNull())
        .addColumn("run_id", "text", (c) => c.notNull())
        .addColumn("run_attempt", "text", (c) => c.notNull())
        .addColumn("workflow", "text", (c) => c.notNull())
        .addColumn("job", "text")
        .addColumn("actor", "text", (c) => c.notNull())
        .addColumn("event", "text", (c) => c.notNull())
        .addColumn("ref", "text", (c) => c.notNull())
        .addColumn("started_at", int, (c) => c.notNull())
        .addColumn("finished_at", int)
        .addColumn("finish_reason", "text")
        .addColumn("check_run_id", int)
        .addColumn("check_run_url", "text")
        .addColumn("check_marker", "text")
        .addColumn("check_sent_at", int)
        .addColumn("check_completed", int, (c) => c.notNull().defaultTo(0))
        .addColumn("token_hash", "text")
        .addColumn("token_expires_at", int)
        .execute();
      await db.schema.createIndex("ci_sessions_node").ifNotExists().on("ci_sessions").columns(["node_id", "started_at"]).execute();
      await db.schema
        .createIndex("ci_sessions_pr")
        .ifNotExists()
        .on("ci_sessions")
        .columns(["repository_id", "pr_number"])
        .where(sql.ref("pr_number"), "is not", null)
        .execute();
      await db.schema.createIndex("ci_sessions_open").ifNotExists().on("ci_sessions").columns(["finished_at", "check_completed"]).execute();
      await db.schema
        .createIndex("ci_sessions_token")
        .ifNotExists()
        .unique()
        .on("ci_sessions")
        .column("token_hash")
        .where(sql.ref("token_hash"), "is not", null)
        .execute();
      await db.schema
        .createTable("ci_oidc_jti")
        .ifNotExists()
        .addColumn("jti", "text", (c) => c.primaryKey())
        .addColumn("expires_at", int, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("ci_check_pending")
        .ifNotExists()
        .addColumn("session_id", "text", (c) => c.primaryKey().references("ci_sessions.id").onDelete("cascade"))
        .addColumn("due_at", int, (c) => c.notNull())
        .addColumn("attempts", int, (c) => c.notNull().defaultTo(0))
        .addColumn("last_error", "text")
        .addColumn("since", int, (c) => c.notNull())
        .execute();

      await db.schema
        .createTable("quota_buckets")
        .ifNotExists()
        .addColumn("bucket", "text", (c) => c.primaryKey())
        .addColumn("quota", "text", (c) => c.notNull())
        .addColumn("balance_nanos", int, (c) => c.notNull())
        .addColumn("carry", int, (c) => c.notNull().defaultTo(0))
        .addColumn("updated_ms", int, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("quota_charges")
        .ifNotExists()
        .addColumn("request_id", "text", (c) => c.notNull())
        .addColumn("bucket", "text", (c) => c.notNull())
        .addColumn("quota", "text", (c) => c.notNull())
        .addColumn("ts", int, (c) => c.notNull())
        .addColumn("reserved_nanos", int, (c) => c.notNull())
        .addColumn("charged_nanos", int, (c) => c.notNull())
        .addColumn("at_reservation", int, (c) => c.notNull().defaultTo(0))
        .addPrimaryKeyConstraint("quota_charges_pkey", ["request_id", "bucket"])
        .execute();
      if (pg) {
        await sql`ALTER TABLE quota_charges ALTER COLUMN at_reservation DROP DEFAULT`.execute(db);
        await sql`ALTER TABLE quota_charges ALTER COLUMN at_reservation TYPE bigint
          USING CASE WHEN at_reservation::text IN ('true', '1') THEN 1 ELSE 0 END`.execute(db);
        await sql`ALTER TABLE quota_charges ALTER COLUMN at_reservation SET DEFAULT 0`.execute(db);
      }
      await db.schema.createIndex("quota_charges_bucket_ts").ifNotExists().on("quota_charges").columns(["bucket", "ts"]).execute();
      await serialId(db, "quota_refills")
        .addColumn("ts", int, (c) => c.notNull())
        .addColumn("principal", "text", (c) => c.notNull())
        .addColumn("bucket", "text", (c) => c.notNull())
        .addColumn("amount_nanos", int, (c) => c.notNull())
        .addColumn("balance_before", int, (c) => c.notNull())
        .addColumn("balance_after", int, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("quota_settlements_pending")
        .ifNotExists()
        .addColumn("request_id", "text", (c) => c.primaryKey())
        .addColumn("lines", "text", (c) => c.notNull())
        .addColumn("charged_nanos", int, (c) => c.notNull())
        .addColumn("at_reservation", int, (c) => c.notNull())
        .addColumn("ts", int, (c) => c.notNull())
        .execute();

      await serialId(db, "config_audit")
        .addColumn("ts", int, (c) => c.notNull())
        .addColumn("principal", "text")
        .addColumn("source", "text", (c) => c.notNull())
        .addColumn("old_hash", "text", (c) => c.notNull())
        .addColumn("new_hash", "text", (c) => c.notNull())
        .addColumn("diff", "text", (c) => c.notNull())
        .execute();
      await db.schema.createIndex("config_audit_ts").ifNotExists().on("config_audit").column("ts").execute();
    },
  };
}
