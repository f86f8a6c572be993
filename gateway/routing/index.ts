// Routing as a gateway module: the key pool shared by every request, a plugin that records each request's attempts
// with its row (the `request_attempts` table, same transaction) and each key's usage, and the admin API over both.
import type { Registry } from "prom-client";
import type { GatewayModule } from "../proxy/feature.js";
import { requireRole } from "../http/require-role.js";
import type { Config } from "../config/schema.js";
import type { ExchangePlugin } from "../proxy/exchange.js";
import type { Store } from "../store/db.js";
import { ROUTING_STATE } from "../proxy/routed.js";
import { KeyPool } from "../proxy/key-pool.js";

export interface RoutingModule extends GatewayModule {
  readonly pool: KeyPool;
}

export interface RoutingModuleDeps {
  readonly store: Store;
  readonly registry: Registry | null;
  readonly getConfig: () => Config;
  readonly now?: () => number;
}

export function createRoutingModule({ store, registry, getConfig, now }: RoutingModuleDeps): RoutingModule {
  const pool = new KeyPool(registry, now);
  const plugin: ExchangePlugin = {
    name: "routing",
    after(ex, outcome) {
      const state = ex.state.get(ROUTING_STATE);
      if (!state) return;
      const usage = outcome.summary.usage;
      if (state.answered && usage) {
        pool.used(state.answered.provider, state.answered.key, usage.input + usage.cacheRead + usage.cacheWrite, usage.output, outcome.costNanos);
      }
      // A request its first target answered at once has nothing to explain: its row names the target.
      if (state.attempts.every((a) => a.outcome === "answered")) return;
      const rows = state.attempts.map((a, n) => ({ n, provider: a.provider, model: a.model, key_name: a.key, outcome: a.outcome, status: a.status, reason: a.reason, duration_ms: a.duration_ms }));
      return { rows: () => ({ kind: "attempts", rows }) };
    },
  };
  return {
    name: "routing",
    pool,
    plugin,
    mount(app) {
      app.get("/api/routing/keys", requireRole("admin"), (c) => c.json({ keys: pool.view(getConfig().providers) }));
      app.get("/api/requests/:id/attempts", requireRole("admin"), async (c) => {
        const attempts = await store.db
          .selectFrom("request_attempts")
          .select(["n", "provider", "model", "key_name", "outcome", "status", "reason", "duration_ms"])
          .where("request_id", "=", c.req.param("id"))
          .orderBy("n")
          .execute();
        return c.json({ attempts });
      });
    },
  };
}
