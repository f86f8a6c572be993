// Every kind of LogWrite, the quota settlement included (it needs the bucket arithmetic of quotas/, which the store
// does not know). Runs wherever the log's writer runs: its worker thread, or this thread for PostgreSQL.
import { settleIn } from "../quotas/store.js";
import { type ApplyLogWrite, applyStoreWrite } from "../store/log-writes.js";

export const applyLogWrite: ApplyLogWrite = (trx, requestId, write) =>
  write.kind === "quota_settlement" ? settleIn(trx, requestId, write.lines, write.charged, write.atReservation, Date.now()) : applyStoreWrite(trx, requestId, write);
