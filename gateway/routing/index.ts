// Routing as a gateway module: the key pool shared by every request, a plugin that records each request's attempts
// with its row (the `request_attempts` table, same transaction) and each key's usage, and the admin API over both.
import type { Registry } from "prom-client";
import type { GatewayModule } from "../app.js";
import { requireRole } from "../api/auth.js";
import type { Config } from "../config/schema.js";
import type { ExchangePlugin } from "../proxy/exchange.js";
import type { Db } from "../store/db.js";
import { ROUTING_STATE, type RoutingState } from "./exchange.js";
import { KeyPool } from "./keys.js";
import type { Attempt } from "./send.js";

export const ROUTING_SCHEMA = `
CREATE TABLE IF NOT EXISTS request_attempts (
  request_id TEXT NOT NULL,
  n INTEGER NOT NULL,
  provider TEXT NOT NULL,
  model TEXT NOT NULL,
  key_name TEXT,
  outcome TEXT NOT NULL,
  status INTEGER,
  reason TEXT,
  duration_ms REAL NOT NULL,
  PRIMARY KEY (request_id, n)
);
`;

export interface RoutingModule extends GatewayModule {
  readonly pool: KeyPool;
}

export interface RoutingModuleDeps {
  readonly db: Db;
  readonly registry: Registry | null;
  readonly getConfig: () => Config;
  readonly now?: () => number;
}

interface AttemptRow {
  n: number;
  provider: string;
  model: string;
  key_name: string | null;
  outcome: Attempt["outcome"];
  status: number | null;
  reason: string | null;
  duration_ms: number;
}

export function createRoutingModule({ db, registry, getConfig, now }: RoutingModuleDeps): RoutingModule {
  db.exec(ROUTING_SCHEMA);
  const pool = new KeyPool(registry, now);
  const insert = db.prepare(`INSERT OR REPLACE INTO request_attempts (request_id, n, provider, model, key_name, outcome, status, reason, duration_ms)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const select = db.prepare("SELECT n, provider, model, key_name, outcome, status, reason, duration_ms FROM request_attempts WHERE request_id = ? ORDER BY n");
  const plugin: ExchangePlugin = {
    name: "routing",
    after(ex, outcome) {
      const state = ex.state.get(ROUTING_STATE) as RoutingState | undefined;
      if (!state) return;
      const usage = outcome.summary.usage;
      if (state.answered && usage) {
        pool.used(state.answered.provider, state.answered.key, usage.input + usage.cacheRead + usage.cacheWrite, usage.output, outcome.costNanos);
      }
      // A request its first target answered at once has nothing to explain: its row names the target.
      if (state.attempts.every((a) => a.outcome === "answered")) return;
      return {
        write(_db, requestId) {
          state.attempts.forEach((a, n) => insert.run(requestId, n, a.provider, a.model, a.key, a.outcome, a.status, a.reason, a.duration_ms));
        },
      };
    },
  };
  return {
    name: "routing",
    pool,
    plugin,
    mount(app) {
      app.get("/api/routing/keys", (c) => requireRole(c, getConfig(), "admin") ?? c.json({ keys: pool.view(getConfig().providers) }));
      app.get("/api/requests/:id/attempts", (c) => requireRole(c, getConfig(), "admin") ?? c.json({ attempts: select.all(c.req.param("id")) as AttemptRow[] }));
    },
  };
}
