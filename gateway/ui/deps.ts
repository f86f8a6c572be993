// What the UI pages read: the store, the request log and the budgets (the caller comes with each request).
import type { Identity } from "../identity/types.js";
import type { SessionRef } from "../proxy/exchange.js";
import type { BucketStore } from "../quotas/bucket-store.js";
import type { Store } from "../store/db.js";
import type { RequestLog } from "../store/requests.js";

export interface UiDeps {
  readonly store: Store;
  readonly log: RequestLog;
  readonly buckets: BucketStore;
  readonly sessionFor: (identity: Identity) => SessionRef | null;
}
