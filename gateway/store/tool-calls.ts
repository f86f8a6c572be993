// Tool calls: one row per call a model asked for (nested code-mode calls as child rows), written in the same
// transaction as their request; the result columns are filled in when a later request reports the outcome.
import type { Db } from "./db.js";
import type { RowCursor } from "./requests.js";

export const TOOL_CALLS_SCHEMA = `
CREATE TABLE IF NOT EXISTS tool_calls (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  request_id TEXT NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
  parent_id INTEGER REFERENCES tool_calls (id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  principal TEXT NOT NULL,
  session_id TEXT,
  client_session TEXT,
  call_id TEXT NOT NULL,
  name TEXT NOT NULL,
  kind TEXT NOT NULL,
  mcp_server TEXT,
  mcp_tool TEXT,
  command TEXT,
  paths TEXT,
  arguments TEXT,
  findings TEXT NOT NULL DEFAULT '[]',
  action TEXT NOT NULL,
  result_request_id TEXT,
  result_ts INTEGER,
  result_error INTEGER,
  result_text TEXT
);
CREATE INDEX IF NOT EXISTS tool_calls_request ON tool_calls (request_id);
CREATE INDEX IF NOT EXISTS tool_calls_ts ON tool_calls (ts);
CREATE INDEX IF NOT EXISTS tool_calls_principal_call ON tool_calls (principal, call_id);
CREATE INDEX IF NOT EXISTS tool_calls_session ON tool_calls (session_id) WHERE session_id IS NOT NULL;
`;

/** Stored argument JSON is cut at this many characters (kept as a JSON string with a marker when cut). */
export const MAX_ARGUMENTS_CHARS = 16 * 1024;
export const MAX_RESULT_CHARS = 4096;

export type ToolCallAction = "log" | "flag" | "block";

/** A finding as stored (the analysis library's Finding, plus the action actually taken for it). */
export interface StoredFinding {
  readonly ruleId: string;
  readonly category: string;
  readonly severity: string;
  readonly action: ToolCallAction;
  readonly message: string;
  readonly command: string;
}

/** One call to store; `nested` become child rows (Codex code-mode calls made inside `exec`). */
export interface ToolCallRecord {
  readonly callId: string;
  readonly name: string;
  readonly kind: string;
  readonly mcpServer: string | null;
  readonly mcpTool: string | null;
  readonly command: string | null;
  readonly paths: readonly string[] | null;
  readonly args: unknown;
  readonly findings: readonly StoredFinding[];
  readonly action: ToolCallAction;
  readonly nested: readonly ToolCallRecord[];
}

export interface ToolCallContext {
  readonly ts: number;
  readonly principal: string;
  readonly sessionId: string | null;
  readonly clientSession: string | null;
}

export interface ToolResultUpdate {
  readonly callId: string;
  /** Gemini results may carry only the function name when the model's call had no id. */
  readonly name?: string;
  readonly isError: boolean;
  readonly output: string;
}

export interface ToolCallRow {
  readonly id: number;
  readonly request_id: string;
  readonly parent_id: number | null;
  readonly position: number;
  readonly ts: number;
  readonly principal: string;
  readonly session_id: string | null;
  readonly client_session: string | null;
  readonly call_id: string;
  readonly name: string;
  readonly kind: string;
  readonly mcp_server: string | null;
  readonly mcp_tool: string | null;
  readonly command: string | null;
  readonly paths: readonly string[] | null;
  readonly arguments: unknown;
  readonly findings: readonly StoredFinding[];
  readonly action: ToolCallAction;
  readonly result: { readonly request_id: string; readonly ts: number; readonly is_error: boolean; readonly text: string | null } | null;
}

type DbToolCallRow = Omit<ToolCallRow, "paths" | "arguments" | "findings" | "result"> & {
  paths: string | null;
  arguments: string | null;
  findings: string;
  result_request_id: string | null;
  result_ts: number | null;
  result_error: number | null;
  result_text: string | null;
};

export function cappedJson(value: unknown, max = MAX_ARGUMENTS_CHARS): string {
  const text = JSON.stringify(value ?? null) ?? "null";
  if (text.length <= max) return text;
  return JSON.stringify({ _truncated: true, text: text.slice(0, max), more_chars: text.length - max });
}

function fromDb(row: DbToolCallRow): ToolCallRow {
  const { result_request_id, result_ts, result_error, result_text, ...rest } = row;
  return {
    ...rest,
    paths: row.paths === null ? null : (JSON.parse(row.paths) as string[]),
    arguments: row.arguments === null ? null : (JSON.parse(row.arguments) as unknown),
    findings: JSON.parse(row.findings) as StoredFinding[],
    result:
      result_request_id === null
        ? null
        : { request_id: result_request_id, ts: result_ts ?? 0, is_error: result_error === 1, text: result_text },
  };
}

/** Inserts the calls of one request (call it inside the request's transaction). Returns the rows' ids, parents first. */
/** Compiled once per database: preparing the statement cost more than running it, for every answer with tool calls. */
const insertStatements = new WeakMap<Db, ReturnType<Db["prepare"]>>();

export function insertToolCalls(db: Db, requestId: string, ctx: ToolCallContext, records: readonly ToolCallRecord[]): number[] {
  let insert = insertStatements.get(db);
  if (!insert) {
    insert = db.prepare(`INSERT INTO tool_calls (request_id, parent_id, position, ts, principal, session_id, client_session,
      call_id, name, kind, mcp_server, mcp_tool, command, paths, arguments, findings, action)
      VALUES (@request_id, @parent_id, @position, @ts, @principal, @session_id, @client_session, @call_id, @name, @kind,
      @mcp_server, @mcp_tool, @command, @paths, @arguments, @findings, @action)`);
    insertStatements.set(db, insert);
  }
  const ids: number[] = [];
  const write = (record: ToolCallRecord, position: number, parentId: number | null) => {
    const { lastInsertRowid } = insert.run({
      request_id: requestId,
      parent_id: parentId,
      position,
      ts: ctx.ts,
      principal: ctx.principal,
      session_id: ctx.sessionId,
      client_session: ctx.clientSession,
      call_id: record.callId,
      name: record.name,
      kind: record.kind,
      mcp_server: record.mcpServer,
      mcp_tool: record.mcpTool,
      command: record.command,
      paths: record.paths ? JSON.stringify(record.paths) : null,
      arguments: cappedJson(record.args),
      findings: JSON.stringify(record.findings),
      action: record.action,
    });
    const id = Number(lastInsertRowid);
    ids.push(id);
    record.nested.forEach((child, i) => write(child, i, id));
  };
  records.forEach((r, i) => write(r, i, null));
  return ids;
}

/**
 * Fills in the result of earlier calls of the same principal, matched by call id (the newest top-level row with that id
 * and no result yet; Gemini results without a matching id fall back to the newest open call of that name).
 * Returns the results that matched no row.
 */
export function applyToolResults(
  db: Db,
  principal: string,
  resultRequestId: string,
  ts: number,
  results: readonly ToolResultUpdate[],
): ToolResultUpdate[] {
  const byId = db.prepare(`SELECT id FROM tool_calls WHERE principal = ? AND call_id = ? AND parent_id IS NULL
    AND result_request_id IS NULL AND request_id != ? ORDER BY id DESC LIMIT 1`);
  // Only calls whose id keyless synthesized ("<response>#<n>") can be matched by name.
  const byName = db.prepare(`SELECT id FROM tool_calls WHERE principal = ? AND name = ? AND parent_id IS NULL
    AND call_id LIKE '%#%' AND result_request_id IS NULL AND request_id != ? AND ts >= ? ORDER BY ts DESC, position ASC LIMIT 1`);
  const update = db.prepare(`UPDATE tool_calls SET result_request_id = ?, result_ts = ?, result_error = ?, result_text = ?
    WHERE id = ?`);
  const unmatched: ToolResultUpdate[] = [];
  for (const result of results) {
    let row = result.callId ? (byId.get(principal, result.callId, resultRequestId) as { id: number } | undefined) : undefined;
    // A day is plenty for a tool round trip; beyond it a name match is more likely a different call.
    if (!row && result.name) row = byName.get(principal, result.name, resultRequestId, ts - 86_400_000) as { id: number } | undefined;
    if (!row) {
      unmatched.push(result);
      continue;
    }
    update.run(resultRequestId, ts, result.isError ? 1 : 0, result.output.slice(0, MAX_RESULT_CHARS), row.id);
  }
  return unmatched;
}

export interface ToolCallFilter {
  /** Only rows of this principal (set for callers who may see only their own). */
  readonly principal?: string;
  readonly kind?: string;
  readonly name?: string;
  /** Rule id or category of a finding the call must carry. */
  readonly finding?: string;
  readonly action?: string;
  /** CI session id or the agent's own session id. */
  readonly session?: string;
  readonly requestId?: string;
  readonly since?: number;
  readonly until?: number;
  /** Paging: rows older than this one in (ts, id) order. */
  readonly before?: RowCursor;
  readonly limit?: number;
}

function where(filter: ToolCallFilter): { sql: string; params: Record<string, string | number> } {
  const clauses: string[] = [];
  const params: Record<string, string | number> = {};
  const add = (clause: string, key: string, value: string | number | undefined) => {
    if (value === undefined || value === "") return;
    clauses.push(clause);
    params[key] = value;
  };
  add("principal = @principal", "principal", filter.principal);
  add("kind = @kind", "kind", filter.kind);
  add("name = @name", "name", filter.name);
  add("action = @action", "action", filter.action);
  add("request_id = @request_id", "request_id", filter.requestId);
  add("(session_id = @session OR client_session = @session)", "session", filter.session);
  add("ts >= @since", "since", filter.since);
  add("ts < @until", "until", filter.until);
  if (filter.before) {
    clauses.push("(ts < @before_ts OR (ts = @before_ts AND id < @before_id))");
    params.before_ts = filter.before.ts;
    params.before_id = Number(filter.before.id);
  }
  add(
    "EXISTS (SELECT 1 FROM json_each(tool_calls.findings) f WHERE json_extract(f.value, '$.ruleId') = @finding OR json_extract(f.value, '$.category') = @finding)",
    "finding",
    filter.finding,
  );
  return { sql: clauses.length ? `WHERE ${clauses.join(" AND ")}` : "", params };
}

export function listToolCalls(db: Db, filter: ToolCallFilter): ToolCallRow[] {
  const { sql, params } = where(filter);
  const limit = Math.min(Math.max(filter.limit ?? 100, 1), 1000);
  const rows = db.prepare(`SELECT * FROM tool_calls ${sql} ORDER BY ts DESC, id DESC LIMIT ${limit}`).all(params) as DbToolCallRow[];
  return rows.map(fromDb);
}

export interface ToolCallStats {
  readonly total: number;
  readonly by_kind: readonly { readonly kind: string; readonly calls: number; readonly flagged: number; readonly blocked: number }[];
  readonly by_name: readonly { readonly name: string; readonly kind: string; readonly calls: number; readonly errors: number }[];
  readonly by_action: Readonly<Record<string, number>>;
}

export function toolCallStats(db: Db, filter: Omit<ToolCallFilter, "limit">): ToolCallStats {
  const { sql, params } = where(filter);
  const byKind = db
    .prepare(`SELECT kind, COUNT(*) AS calls, SUM(action = 'flag') AS flagged, SUM(action = 'block') AS blocked
      FROM tool_calls ${sql} GROUP BY kind ORDER BY calls DESC, kind`)
    .all(params) as { kind: string; calls: number; flagged: number; blocked: number }[];
  const byName = db
    .prepare(`SELECT name, kind, COUNT(*) AS calls, SUM(COALESCE(result_error, 0)) AS errors
      FROM tool_calls ${sql} GROUP BY name, kind ORDER BY calls DESC, name LIMIT 200`)
    .all(params) as { name: string; kind: string; calls: number; errors: number }[];
  const byAction = db.prepare(`SELECT action, COUNT(*) AS calls FROM tool_calls ${sql} GROUP BY action`).all(params) as {
    action: string;
    calls: number;
  }[];
  return {
    total: byKind.reduce((sum, k) => sum + k.calls, 0),
    by_kind: byKind,
    by_name: byName,
    by_action: Object.fromEntries(byAction.map((a) => [a.action, a.calls])),
  };
}
