// GET /api/tool-calls and /api/tool-calls/stats: admins see every caller's calls, users only their own.
import type { Context, Hono } from "hono";
import { z } from "zod";
import type { GatewayEnv } from "../http/env.js";
import type { Store } from "../store/db.js";
import { type ToolCallFilter, listToolCalls, toolCallStats } from "../store/tool-calls.js";
import { requireRole } from "../http/require-role.js";
import { apiError, zodMessage } from "../http/api-error.js";
import { TimeParam } from "../api/query.js";

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
function filterFor(c: Context<GatewayEnv>): ToolCallFilter | Response {
  const q = Query.safeParse(c.req.query());
  if (!q.success) return apiError(c, 400, "invalid_query", zodMessage(q.error));
  const { request, ...rest } = q.data;
  const filter: ToolCallFilter = { ...rest, ...(request ? { requestId: request } : {}) };
  if (c.var.caller.role === "admin") return filter;
  const own = c.var.identity.principal;
  if (filter.principal !== undefined && filter.principal !== own) {
    return apiError(c, 403, "forbidden", `access denied: role user may only read its own tool calls (${own})`);
  }
  return { ...filter, principal: own };
}

export function mountToolCallApi(app: Hono<GatewayEnv>, store: Store): void {
  app.get("/api/tool-calls", requireRole("user"), async (c) => {
    const filter = filterFor(c);
    if (filter instanceof Response) return filter;
    return c.json({ tool_calls: await listToolCalls(store, filter) });
  });
  app.get("/api/tool-calls/stats", requireRole("user"), async (c) => {
    const filter = filterFor(c);
    if (filter instanceof Response) return filter;
    const { limit: _limit, ...rest } = filter;
    return c.json(await toolCallStats(store, rest));
  });
}
