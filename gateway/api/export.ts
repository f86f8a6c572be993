// GET /api/export/requests and /api/export/tool-calls?format=csv|json plus any list or search filter: the filtered
// rows, newest first, as a download. Users get only their own principal's rows.
import type { Context, Hono } from "hono";
import type { GatewayEnv } from "../http/env.js";
import { apiError, zodMessage } from "../http/api-error.js";
import { requireRole } from "../http/require-role.js";
import type { Store } from "../store/db.js";
import type { RequestLog, RequestRow } from "../store/requests.js";
import type { ToolCallRow } from "../store/tool-calls.js";
import { SearchFilter, collect, searchRequests, searchToolCalls } from "../stats/search.js";
import { type Cell, toCsv } from "./csv.js";

/** Rows in one export at most. */
export const EXPORT_LIMIT = 10_000;

export const REQUEST_COLUMNS = [
  "id", "time", "principal", "provider", "model", "status", "denial", "error", "duration_ms", "input_tokens", "cache_read_tokens",
  "cache_write_tokens", "output_tokens", "cost_nanos", "tool_calls", "session_id", "client_session",
] as const;

export const TOOL_CALL_COLUMNS = [
  "id", "time", "request_id", "principal", "session_id", "kind", "name", "command", "mcp_server", "mcp_tool", "paths", "action", "findings", "result",
] as const;

const iso = (ms: number) => new Date(ms).toISOString();

function requestRecord(r: RequestRow): Record<(typeof REQUEST_COLUMNS)[number], Cell> {
  return {
    id: r.id, time: iso(r.ts), principal: r.principal, provider: r.provider, model: r.model, status: r.status, denial: r.denial, error: r.error,
    duration_ms: Math.round(r.duration_ms), input_tokens: r.input_tokens, cache_read_tokens: r.cache_read_tokens, cache_write_tokens: r.cache_write_tokens,
    output_tokens: r.output_tokens, cost_nanos: r.cost_nanos, tool_calls: r.tool_calls, session_id: r.session_id, client_session: r.client_session,
  };
}

function toolCallRecord(t: ToolCallRow): Record<(typeof TOOL_CALL_COLUMNS)[number], Cell> {
  return {
    id: t.id, time: iso(t.ts), request_id: t.request_id, principal: t.principal, session_id: t.session_id, kind: t.kind, name: t.name, command: t.command,
    mcp_server: t.mcp_server, mcp_tool: t.mcp_tool, paths: t.paths?.join(" ") ?? null, action: t.action,
    findings: t.findings.map((f) => f.ruleId).join(" "), result: t.result === null ? null : t.result.is_error ? "error" : "ok",
  };
}

function send(c: Context<GatewayEnv>, name: string, format: string, columns: readonly string[], rows: readonly Record<string, Cell>[]): Response {
  const headers = { "cache-control": "no-store", "content-disposition": `attachment; filename="keyless-${name}.${format}"` };
  if (format === "json") return c.json({ rows }, 200, headers);
  return c.body(toCsv(columns, rows), 200, { ...headers, "content-type": "text/csv; charset=utf-8" });
}

export function mountExportApi(app: Hono<GatewayEnv>, deps: { readonly store: Store; readonly log: RequestLog }): void {
  app.get("/api/export/:list{requests|tool-calls}", requireRole("user"), async (c) => {
    const { format = "csv", ...query } = c.req.query();
    if (format !== "csv" && format !== "json") return apiError(c, 400, "invalid_query", 'format: expected "csv" or "json"');
    const parsed = SearchFilter.safeParse(query);
    if (!parsed.success) return apiError(c, 400, "invalid_query", zodMessage(parsed.error));
    const { role, identity } = c.var.caller;
    if (role !== "admin" && parsed.data.principal !== undefined && parsed.data.principal !== identity.principal) {
      return apiError(c, 403, "forbidden", `access denied: role user may only read its own rows (${identity.principal})`);
    }
    const filter = { ...parsed.data, principal: role === "admin" ? parsed.data.principal : identity.principal };
    if (c.req.param("list") === "requests") {
      const rows = await collect((before, limit) => searchRequests(deps.store, deps.log, { ...filter, before }, limit), EXPORT_LIMIT);
      return send(c, "requests", format, REQUEST_COLUMNS, rows.map(requestRecord));
    }
    const rows = await collect((before, limit) => searchToolCalls(deps.store, { ...filter, before }, limit), EXPORT_LIMIT);
    return send(c, "tool-calls", format, TOOL_CALL_COLUMNS, rows.map(toolCallRecord));
  });
}
