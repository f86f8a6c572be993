// Version 6 (another branch numbers its config-audit change 5): the export queue. Every request row written while
// `export` is configured gets an entry in export_queue (in the row's own transaction); an export run claims entries
// into a batch (export_batches: the id that names its objects, recorded before the upload), uploads the batch's rows,
// then deletes both. A run that dies between upload and delete leaves the batch, and a later run uploads the same rows
// under the same key again: S3 overwrites, so every row is in exactly one object.
import type { Kysely, Migration } from "kysely";
import type { Engine } from "./engine.js";

export function exportQueue(engine: Engine): Migration {
  const int = engine === "postgres" ? "bigint" : "integer";
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("export_batches")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("created_at", int, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("export_queue")
        .addColumn("request_id", "text", (c) => c.primaryKey())
        .addColumn("ts", int, (c) => c.notNull())
        .addColumn("batch", "text", (c) => c.references("export_batches.id").onDelete("cascade"))
        .execute();
      await db.schema.createIndex("export_queue_ts").on("export_queue").columns(["ts", "request_id"]).execute();
      await db.schema.createIndex("export_queue_batch").on("export_queue").column("batch").execute();
    },
  };
}
