// What other modules store with a request's log row, as plain data: the log's writer (a worker thread owning its own
// SQLite connection, or a batched writer on PostgreSQL) receives it by structured clone and writes it in the same
// transaction as the row. No closures cross: the request path only hands data over.
import type { Insertable } from "kysely";
import type { QuotaDefinition } from "../config/quotas.js";
import { type OutboxMessage, enqueueOutbox, webhookItem } from "./outbox.js";
import type { Executor, RequestAttemptsTable } from "./schema.js";
import { type SecretFindingRecord, insertSecretFindings } from "./secret-findings.js";
import { type ToolCallContext, type ToolCallRecord, type ToolResultUpdate, applyToolResults, insertToolCalls } from "./tool-calls.js";

/** One bucket of a settled line, with the definition it was reserved under (quotas/bucket-store.ts `Charge`). */
export interface SettledBucket {
  readonly bucket: string;
  readonly quota: string;
  readonly def: QuotaDefinition;
}

export type LogWrite =
  | { readonly kind: "tool_calls"; readonly ctx: ToolCallContext; readonly calls: readonly ToolCallRecord[]; readonly results: readonly ToolResultUpdate[] }
  | { readonly kind: "secret_findings"; readonly ctx: Omit<ToolCallContext, "clientSession">; readonly records: readonly SecretFindingRecord[] }
  | { readonly kind: "outbox"; readonly messages: readonly OutboxMessage[]; readonly at: number }
  | { readonly kind: "attempts"; readonly rows: readonly Omit<Insertable<RequestAttemptsTable>, "request_id">[] }
  /** A shared bucket store's settlement (its JSON), kept in the outbox until applied there (quotas/settlements.ts). */
  | { readonly kind: "quota_pending"; readonly payload: string; readonly ts: number }
  /** A settlement against the gateway's own SQLite buckets (quotas/store.ts). */
  | {
      readonly kind: "quota_settlement";
      readonly lines: readonly { readonly line: readonly SettledBucket[]; readonly portions: readonly number[] }[];
      readonly charged: number;
      readonly atReservation: boolean;
    };

/** Writes one LogWrite inside the request's transaction. */
export type ApplyLogWrite = (trx: Executor, requestId: string, write: LogWrite) => Promise<void>;

/** Every kind the store itself knows; the quota settlement needs the bucket arithmetic (log-writer/apply.ts). */
export const applyStoreWrite: ApplyLogWrite = async (trx, requestId, w) => {
  switch (w.kind) {
    case "tool_calls":
      if (w.results.length > 0) await applyToolResults(trx, w.ctx.principal, requestId, w.ctx.ts, w.results);
      if (w.calls.length > 0) await insertToolCalls(trx, requestId, w.ctx, w.calls);
      return;
    case "secret_findings":
      return insertSecretFindings(trx, requestId, w.ctx, w.records);
    case "outbox":
      return enqueueOutbox(trx, "webhook", w.messages.map(webhookItem), w.at);
    case "attempts":
      await trx
        .insertInto("request_attempts")
        .values(w.rows.map((r) => ({ ...r, request_id: requestId })))
        .execute();
      return;
    case "quota_pending":
      return enqueueOutbox(trx, "settlement", [{ key: requestId, payload: w.payload }], w.ts);
    case "quota_settlement":
      throw new Error("a quota settlement needs the quota store's writer (log-writer/apply.ts)");
  }
};
