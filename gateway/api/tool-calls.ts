// GET /api/tool-calls and /api/tool-calls/stats: admins see every caller's calls, users only their own.
import type { Context, Hono } from "hono";
import { z } from "zod";
import type { Config } from "../config/schema.js";
import type { GatewayEnv } from "../env.js";
import type { Store } from "../store/db.js";
import { type ToolCallFilter, listToolCalls, toolCallStats } from "../store/tool-calls.js";
import { callerAccess } from "./auth.js";
import { apiError, zodMessage } from "./errors.js";
import { TimeParam } from "./query.js";

const Query = z.strictObject({
  principal: z.string().optional(),
  kind: z.enum(["shell", "mcp", "file_edit", "function"]).optional(),
  name: z.string().optional(),
  /** Rule id or category. */
  finding: z.string().optional(),
  action: z.enum(["log", "flag", "block"]).optional(),
  session: z.string().optional(),
  request: z.string().optional(),
  since: TimeParam,
  until: TimeParam,
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});

/** The filter the caller may run, or an error response. Users are pinned to their own principal. */
function filterFor(c: Context<GatewayEnv>, config: Config): ToolCallFilter | Response {
  const access = callerAccess(c, config);
  if (access.role === null) return apiError(c, 403, "forbidden", "access denied: no role granted");
  const q = Query.safeParse(c.req.query());
  if (!q.success) return apiError(c, 400, "invalid_query", zodMessage(q.error));
  const { request, ...rest } = q.data;
  const filter: ToolCallFilter = { ...rest, ...(request ? { requestId: request } : {}) };
  if (access.role === "admin") return filter;
  const own = c.var.identity.principal;
  if (filter.principal !== undefined && filter.principal !== own) {
    return apiError(c, 403, "forbidden", `access denied: role user may only read its own tool calls (${own})`);
  }
  return { ...filter, principal: own };
}

export function mountToolCallApi(app: Hono<GatewayEnv>, getConfig: () => Config, store: Store): void {
  app.get("/api/tool-calls", async (c) => {
    const filter = filterFor(c, getConfig());
    if (filter instanceof Response) return filter;
    return c.json({ tool_calls: await listToolCalls(store, filter) });
  });
  app.get("/api/tool-calls/stats", async (c) => {
    const filter = filterFor(c, getConfig());
    if (filter instanceof Response) return filter;
    const { limit: _limit, ...rest } = filter;
    return c.json(await toolCallStats(store, rest));
  });
}
