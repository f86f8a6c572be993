// Budgets as a gateway module: the reserve-then-settle plugin and the /api/quotas routes over one bucket store.
import type { GatewayModule } from "../app.js";
import { mountQuotaApi } from "../api/quotas.js";
import type { Config } from "../config/schema.js";
import type { Identity } from "../identity/types.js";
import type { Pricer } from "../pricing/prices.js";
import type { SessionRef } from "../proxy/exchange.js";
import type { Db } from "../store/db.js";
import { quotaPlugin } from "./plugin.js";
import { QuotaStore } from "./store.js";

export interface QuotaModuleDeps {
  readonly db: Db;
  readonly pricer: Pricer;
  readonly getConfig: () => Config;
  readonly sessionFor?: (identity: Identity) => SessionRef | null;
  readonly now?: () => number;
}

export interface QuotaModule extends GatewayModule {
  readonly store: QuotaStore;
}

export function createQuotaModule(deps: QuotaModuleDeps): QuotaModule {
  const store = new QuotaStore(deps.db, deps.now);
  return {
    name: "quotas",
    store,
    plugin: quotaPlugin({ store, pricer: deps.pricer, getConfig: deps.getConfig }),
    mount: (app) => mountQuotaApi(app, { store, getConfig: deps.getConfig, sessionFor: deps.sessionFor ?? (() => null) }),
  };
}
