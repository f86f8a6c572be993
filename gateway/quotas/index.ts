// Budgets as a gateway module: the reserve-then-settle plugin and the /api/quotas routes over one bucket store, in the
// gateway's SQLite file or in PostgreSQL shared by replicas (config `quota_store`).
import type { GatewayModule } from "../proxy/feature.js";
import { mountQuotaApi } from "./api.js";
import type { QuotaStoreConfig } from "../config/quota-store.js";
import type { Identity } from "../identity/types.js";
import type { Pricer } from "../pricing/prices.js";
import type { SessionRef } from "../proxy/exchange.js";
import type { Store } from "../store/db.js";
import type { BucketStore } from "./bucket-store.js";
import { quotaPlugin } from "./plugin.js";
import { PostgresBucketStore } from "./postgres-store.js";
import { QuotaStore, type Reserver } from "./store.js";

export interface BucketStoreDeps {
  readonly store: Store;
  /** The store's PostgreSQL URL and pool size when it is PostgreSQL: budgets then live there. */
  readonly database?: { readonly url?: string; readonly pool_size: number };
  readonly now?: () => number;
  readonly onError?: (err: unknown, context: string) => void;
  /** This replica's name in outbox claims (settlements). */
  readonly replica?: string;
  /** Where a SQLite store's reservations run (the log's writer thread), when not on this thread. */
  readonly reserve?: Reserver;
}

/** Opens the configured store; a shared store that cannot be reached is an error (the gateway does not start). */
export async function openBucketStore(config: QuotaStoreConfig, deps: BucketStoreDeps): Promise<BucketStore> {
  const { store } = deps;
  if (config.type === "postgres") return PostgresBucketStore.open({ config, store, now: deps.now, onError: deps.onError, replica: deps.replica });
  if (store.engine === "sqlite") return new QuotaStore(store, deps.now, deps.reserve);
  // Everything is in PostgreSQL: budgets use the row-locking store on the same database.
  const shared = { type: "postgres" as const, url: deps.database?.url ?? "", pool_size: deps.database?.pool_size ?? 10, timeout: 5000 };
  return PostgresBucketStore.open({ config: shared, store, migrate: false, now: deps.now, onError: deps.onError, replica: deps.replica });
}

export interface QuotaModuleDeps {
  readonly store: BucketStore;
  readonly pricer: Pricer;
  readonly sessionFor?: (identity: Identity) => SessionRef | null;
}

export interface QuotaModule extends GatewayModule {
  readonly store: BucketStore;
}

export function createQuotaModule(deps: QuotaModuleDeps): QuotaModule {
  const { store } = deps;
  return {
    name: "quotas",
    store,
    plugin: quotaPlugin({ store, pricer: deps.pricer }),
    mount: (app) => mountQuotaApi(app, { store, sessionFor: deps.sessionFor ?? (() => null) }),
  };
}
