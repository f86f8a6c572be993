// Search over requests and tool calls (the search page and the export routes): by principal, model, provider,
// session, status, tool kind, command text, finding and action. A request matches a command or finding filter
// through its tool calls; rows come newest first, paged by a cursor.
import { z } from "zod";
import type { Store } from "../store/db.js";
import type { RequestLog, RequestRow, RowCursor } from "../store/requests.js";
import { type ToolCallRow, listToolCalls } from "../store/tool-calls.js";

const cursor = z.string().transform((s, ctx): RowCursor => {
  const m = /^(\d+):(.+)$/.exec(s);
  if (!m) {
    ctx.addIssue({ code: "custom", message: "expected <ts>:<id>" });
    return z.NEVER;
  }
  return { ts: Number(m[1]), id: m[2]! };
});

/** Every filter a list, the search page or an export takes; empty values mean "not set". */
export const SearchFilter = z.preprocess(
  (q) => Object.fromEntries(Object.entries(q as Record<string, string>).filter(([, v]) => v !== "")),
  z.object({
    principal: z.string().optional(),
    model: z.string().optional(),
    provider: z.string().optional(),
    session: z.string().optional(),
    status: z.enum(["2xx", "3xx", "4xx", "5xx", "denied"]).optional(),
    kind: z.enum(["shell", "mcp", "file_edit", "function"]).optional(),
    command: z.string().max(1000).optional(),
    finding: z.string().optional(),
    action: z.enum(["log", "flag", "block"]).optional(),
    before: cursor.optional(),
  }),
);
export type SearchFilter = z.infer<typeof SearchFilter>;

/** Requests whose tool calls a command or finding filter picks, at most this many. */
const MATCHED_CALLS = 1000;

export async function searchToolCalls(store: Store, f: SearchFilter, limit: number): Promise<ToolCallRow[]> {
  const { principal, model, session, kind, command, finding, action, before } = f;
  return listToolCalls(store, { principal, model, session, kind, command, finding, action, before, limit });
}

export async function searchRequests(store: Store, log: RequestLog, f: SearchFilter, limit: number): Promise<RequestRow[]> {
  const { principal, model, provider, session, status, before } = f;
  let ids: string[] | undefined;
  if (f.command || f.finding || f.kind || f.action) {
    const calls = await listToolCalls(store, { principal, model, session, kind: f.kind, command: f.command, finding: f.finding, action: f.action, limit: MATCHED_CALLS });
    ids = [...new Set(calls.map((c) => c.request_id))];
  }
  return log.list({ principal, model, provider, session, status, before, ids, limit });
}

/** Newest-first paging through a list, up to `max` rows. */
export async function collect<T extends { ts: number; id: string | number }>(page: (before: RowCursor | undefined, limit: number) => Promise<T[]>, max: number): Promise<T[]> {
  const out: T[] = [];
  let before: RowCursor | undefined;
  while (out.length < max) {
    const want = Math.min(1000, max - out.length);
    const rows = await page(before, want);
    out.push(...rows);
    const last = rows.at(-1);
    if (!last || rows.length < want) break;
    before = { ts: last.ts, id: last.id };
  }
  return out;
}
