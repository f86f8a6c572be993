// Budgets as a gateway module: the reserve-then-settle plugin and the /api/quotas routes over one bucket store, in the
// gateway's SQLite file or in PostgreSQL shared by replicas (config `quota_store`).
import type { GatewayModule } from "../proxy/feature.js";
import { mountQuotaApi } from "./api.js";
import type { QuotaStoreConfig } from "../config/quota-store.js";
import type { Identity } from "../identity/types.js";
import type { Pricer } from "../pricing/prices.js";
import type { SessionRef } from "../proxy/exchange.js";
import type { Db } from "../store/db.js";
import type { BucketStore } from "./bucket-store.js";
import { quotaPlugin } from "./plugin.js";
import { PostgresBucketStore } from "./postgres-store.js";
import { QuotaStore } from "./store.js";

export interface BucketStoreDeps {
  readonly db: Db;
  readonly now?: () => number;
  readonly onError?: (err: unknown, context: string) => void;
}

/** Opens the configured store; a shared store that cannot be reached is an error (the gateway does not start). */
export async function openBucketStore(config: QuotaStoreConfig, deps: BucketStoreDeps): Promise<BucketStore> {
  if (config.type === "sqlite") return new QuotaStore(deps.db, deps.now);
  return PostgresBucketStore.open({ config, db: deps.db, now: deps.now, onError: deps.onError });
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
