// GET /api/stats: the numbers behind the UI's charts (gateway/stats), shaped by gateway/ui/schemas/stats.ts.
import type { Hono } from "hono";
import type { GatewayEnv } from "../http/env.js";
import { apiError, zodMessage } from "../http/api-error.js";
import { requireRole } from "../http/require-role.js";
import { type StatsDeps, stats } from "../stats/index.js";
import { StatsQuery, type StatsResponse } from "../ui/schemas/stats.js";

export function mountStatsApi(app: Hono<GatewayEnv>, deps: StatsDeps): void {
  app.get("/api/stats", requireRole("user"), async (c) => {
    const q = StatsQuery.safeParse(c.req.query());
    if (!q.success) return apiError(c, 400, "invalid_query", zodMessage(q.error));
    const result = await stats(deps, c.var.caller, q.data);
    if (!result.ok) return apiError(c, result.status, result.status === 403 ? "forbidden" : "invalid_query", result.message);
    const body: StatsResponse = result.value;
    return c.json(body, 200, { "cache-control": "no-store" });
  });
}
