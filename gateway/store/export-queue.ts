// The export queue (migration 0006): request rows waiting to be exported, claimed into batches. A batch is recorded
// (with the id that names its objects) in the same transaction that claims its rows, and deleted with them once its
// objects are uploaded, so a batch that outlives its run is uploaded again under the same names, with the same rows.
import type { Store } from "./db.js";
import type { CaptureRecord, RequestRecord } from "./schema.js";

export interface ExportBatch {
  readonly id: string;
  readonly createdAt: number;
}

export class ExportQueue {
  constructor(private readonly store: Store) {}

  /** Batches claimed before `before` and never finished (their run died, or failed to upload), oldest first. */
  async unfinished(before: number): Promise<ExportBatch[]> {
    const rows = await this.store.db
      .selectFrom("export_batches")
      .select(["id", "created_at"])
      .where("created_at", "<", before)
      .orderBy("created_at")
      .orderBy("id")
      .execute();
    return rows.map((r) => ({ id: r.id, createdAt: r.created_at }));
  }

  /**
   * Claims up to `limit` waiting rows, oldest first, into a new batch `id`; null when none is waiting. Rows another
   * replica is claiming at the same moment are skipped (PostgreSQL), and a row is never in two batches.
   */
  async claim(id: string, now: number, limit: number): Promise<{ batch: ExportBatch; rows: number } | null> {
    const pg = this.store.engine === "postgres";
    return this.store.db.transaction().execute(async (trx) => {
      await trx.insertInto("export_batches").values({ id, created_at: now }).execute();
      const result = await trx
        .updateTable("export_queue")
        .set({ batch: id })
        .where("request_id", "in", (eb) =>
          eb
            .selectFrom("export_queue")
            .select("request_id")
            .where("batch", "is", null)
            .orderBy("ts")
            .orderBy("request_id")
            .limit(limit)
            .$if(pg, (q) => q.forUpdate().skipLocked()),
        )
        .where("batch", "is", null)
        .executeTakeFirst();
      const rows = Number(result.numUpdatedRows);
      if (rows === 0) {
        await trx.deleteFrom("export_batches").where("id", "=", id).execute();
        return null;
      }
      return { batch: { id, createdAt: now }, rows };
    });
  }

  /** The batch's request rows, in a fixed order: uploading a batch again writes the same bytes. */
  async requests(batch: string): Promise<RequestRecord[]> {
    return this.store.db
      .selectFrom("requests")
      .innerJoin("export_queue", "export_queue.request_id", "requests.id")
      .selectAll("requests")
      .where("export_queue.batch", "=", batch)
      .orderBy("requests.ts")
      .orderBy("requests.id")
      .execute();
  }

  async captures(batch: string): Promise<CaptureRecord[]> {
    return this.store.db
      .selectFrom("captures")
      .innerJoin("export_queue", "export_queue.request_id", "captures.request_id")
      .selectAll("captures")
      .where("export_queue.batch", "=", batch)
      .orderBy("captures.ts")
      .orderBy("captures.request_id")
      .execute();
  }

  /** The batch's objects are uploaded: its rows leave the queue. */
  async finish(batch: string): Promise<void> {
    await this.store.db.transaction().execute(async (trx) => {
      await trx.deleteFrom("export_queue").where("batch", "=", batch).execute();
      await trx.deleteFrom("export_batches").where("id", "=", batch).execute();
    });
  }

  /** Rows not yet in an uploaded object. */
  async waiting(): Promise<number> {
    const row = await this.store.db.selectFrom("export_queue").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
    return Number(row.n);
  }
}
