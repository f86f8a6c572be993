// Tool calls: one row per call a model asked for (nested code-mode calls as child rows), written in the same
// transaction as their request; the result columns are filled in when a later request reports the outcome.
import { type Expression, type SqlBool, sql } from "kysely";
import type { Store } from "./db.js";
import type { Executor, RowCursor, ToolCallRecordRow } from "./schema.js";

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

/** A stored call with its JSON columns decoded and its result (if reported) grouped. */
export type ToolCallRow = Readonly<
  Omit<ToolCallRecordRow, "paths" | "arguments" | "findings" | "action" | "result_request_id" | "result_ts" | "result_error" | "result_text"> & {
    paths: readonly string[] | null;
    arguments: unknown;
    findings: readonly StoredFinding[];
    action: ToolCallAction;
    result: { readonly request_id: string; readonly ts: number; readonly is_error: boolean; readonly text: string | null } | null;
  }
>;

export function cappedJson(value: unknown, max = MAX_ARGUMENTS_CHARS): string {
  const text = JSON.stringify(value ?? null) ?? "null";
  if (text.length <= max) return text;
  return JSON.stringify({ _truncated: true, text: text.slice(0, max), more_chars: text.length - max });
}

function fromDb(row: ToolCallRecordRow): ToolCallRow {
  const { result_request_id, result_ts, result_error, result_text, ...rest } = row;
  return {
    ...rest,
    action: row.action as ToolCallAction,
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
export async function insertToolCalls(db: Executor, requestId: string, ctx: ToolCallContext, records: readonly ToolCallRecord[]): Promise<number[]> {
  const ids: number[] = [];
  const write = async (record: ToolCallRecord, position: number, parentId: number | null) => {
    const { id } = await db
      .insertInto("tool_calls")
      .values({
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
      })
      .returning("id")
      .executeTakeFirstOrThrow();
    ids.push(id);
    for (const [i, child] of record.nested.entries()) await write(child, i, id);
  };
  for (const [i, r] of records.entries()) await write(r, i, null);
  return ids;
}

/**
 * Fills in the result of earlier calls of the same principal, matched by call id (the newest top-level row with that id
 * and no result yet; Gemini results without a matching id fall back to the newest open call of that name).
 * Returns the results that matched no row.
 */
export async function applyToolResults(
  db: Executor,
  principal: string,
  resultRequestId: string,
  ts: number,
  results: readonly ToolResultUpdate[],
): Promise<ToolResultUpdate[]> {
  const open = db
    .selectFrom("tool_calls")
    .select("id")
    .where("principal", "=", principal)
    .where("parent_id", "is", null)
    .where("result_request_id", "is", null)
    .where("request_id", "!=", resultRequestId);
  const unmatched: ToolResultUpdate[] = [];
  for (const result of results) {
    let row = result.callId ? await open.where("call_id", "=", result.callId).orderBy("id", "desc").limit(1).executeTakeFirst() : undefined;
    // A day is plenty for a tool round trip; beyond it a name match is more likely a different call.
    // Only calls whose id keyless synthesized ("<response>#<n>") can be matched by name.
    if (!row && result.name) {
      row = await open
        .where("name", "=", result.name)
        .where("call_id", "like", "%#%")
        .where("ts", ">=", ts - 86_400_000)
        .orderBy("ts", "desc")
        .orderBy("position", "asc")
        .limit(1)
        .executeTakeFirst();
    }
    if (!row) {
      unmatched.push(result);
      continue;
    }
    await db
      .updateTable("tool_calls")
      .set({ result_request_id: resultRequestId, result_ts: ts, result_error: result.isError ? 1 : 0, result_text: result.output.slice(0, MAX_RESULT_CHARS) })
      .where("id", "=", row.id)
      .execute();
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
  /** Text the shell command contains (case-insensitive). */
  readonly command?: string;
  /** Only calls of requests to this model. */
  readonly model?: string;
  readonly since?: number;
  readonly until?: number;
  /** Paging: rows older than this one in (ts, id) order. */
  readonly before?: RowCursor;
  readonly limit?: number;
}

/** A finding (rule id or category) in the findings JSON column: json_each on SQLite, jsonb on PostgreSQL. */
function hasFinding(store: Store, finding: string) {
  return store.engine === "postgres"
    ? sql<SqlBool>`EXISTS (SELECT 1 FROM jsonb_array_elements(tool_calls.findings::jsonb) f WHERE f->>'ruleId' = ${finding} OR f->>'category' = ${finding})`
    : sql<SqlBool>`EXISTS (SELECT 1 FROM json_each(tool_calls.findings) f WHERE json_extract(f.value, '$.ruleId') = ${finding} OR json_extract(f.value, '$.category') = ${finding})`;
}

/** `text` matched literally by LIKE: its wildcards and the escape character escaped. */
const likeEscape = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

function filtered(store: Store, filter: ToolCallFilter) {
  return store.db.selectFrom("tool_calls").where(({ eb, and, or }) => {
    const where: Expression<SqlBool>[] = [];
    const add = <V extends string | number>(column: "principal" | "kind" | "name" | "action" | "request_id", value: V | undefined) => {
      if (value !== undefined && value !== "") where.push(eb(column, "=", String(value)));
    };
    add("principal", filter.principal);
    add("kind", filter.kind);
    add("name", filter.name);
    add("action", filter.action);
    add("request_id", filter.requestId);
    if (filter.session) where.push(or([eb("session_id", "=", filter.session), eb("client_session", "=", filter.session)]));
    if (filter.since !== undefined) where.push(eb("ts", ">=", filter.since));
    if (filter.until !== undefined) where.push(eb("ts", "<", filter.until));
    if (filter.before) {
      const { ts, id } = filter.before;
      where.push(or([eb("ts", "<", ts), and([eb("ts", "=", ts), eb("id", "<", Number(id))])]));
    }
    if (filter.finding) where.push(hasFinding(store, filter.finding));
    if (filter.command) where.push(sql<SqlBool>`LOWER(tool_calls.command) LIKE ${`%${likeEscape(filter.command.toLowerCase())}%`} ESCAPE '\\'`);
    if (filter.model) where.push(eb("request_id", "in", store.db.selectFrom("requests").select("id").where("model", "=", filter.model)));
    return and(where);
  });
}

export async function listToolCalls(store: Store, filter: ToolCallFilter): Promise<ToolCallRow[]> {
  const limit = Math.min(Math.max(filter.limit ?? 100, 1), 1000);
  const rows = await filtered(store, filter).selectAll().orderBy("ts", "desc").orderBy("id", "desc").limit(limit).execute();
  return rows.map(fromDb);
}

export interface ToolCallStats {
  readonly total: number;
  readonly by_kind: readonly { readonly kind: string; readonly calls: number; readonly flagged: number; readonly blocked: number }[];
  readonly by_name: readonly { readonly name: string; readonly kind: string; readonly calls: number; readonly errors: number }[];
  readonly by_action: Readonly<Record<string, number>>;
}

export async function toolCallStats(store: Store, filter: Omit<ToolCallFilter, "limit">): Promise<ToolCallStats> {
  const byKind = await filtered(store, filter)
    .select((eb) => [
      "kind",
      eb.fn.countAll<number>().as("calls"),
      sql<number>`SUM(CASE WHEN action = 'flag' THEN 1 ELSE 0 END)`.as("flagged"),
      sql<number>`SUM(CASE WHEN action = 'block' THEN 1 ELSE 0 END)`.as("blocked"),
    ])
    .groupBy("kind")
    .orderBy(sql`2`, "desc")
    .orderBy("kind")
    .execute();
  const byName = await filtered(store, filter)
    .select((eb) => ["name", "kind", eb.fn.countAll<number>().as("calls"), sql<number>`SUM(COALESCE(result_error, 0))`.as("errors")])
    .groupBy(["name", "kind"])
    .orderBy(sql`3`, "desc")
    .orderBy("name")
    .limit(200)
    .execute();
  const byAction = await filtered(store, filter)
    .select((eb) => ["action", eb.fn.countAll<number>().as("calls")])
    .groupBy("action")
    .execute();
  return {
    total: byKind.reduce((sum, k) => sum + k.calls, 0),
    by_kind: byKind,
    by_name: byName,
    by_action: Object.fromEntries(byAction.map((a) => [a.action, a.calls])),
  };
}
