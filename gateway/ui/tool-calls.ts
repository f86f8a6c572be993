// /ui/tool-calls: the tool calls models asked for, newest first, with guardrail findings and results; filters by kind,
// finding (rule id or category) and action, paged by a `before` cursor.
import { html } from "hono/html";
import { z } from "zod";
import { zodMessage } from "../http/api-error.js";
import type { Store } from "../store/db.js";
import { type ToolCallRow, listToolCalls } from "../store/tool-calls.js";
import {
  type Html,
  type Page,
  type Params,
  type Viewer,
  Cursor,
  activeFilters,
  blankless,
  choices,
  clip,
  errorPage,
  filterLink,
  href,
  ownPrincipal,
  time,
} from "./layout.js";
import { exportLinks } from "./export-links.js";

const PAGE_SIZE = 100;
const PATH = "/ui/tool-calls";
const KINDS = ["shell", "mcp", "file_edit", "function"] as const;
const ACTIONS = ["log", "flag", "block"] as const;

const Query = z.preprocess(
  blankless,
  z.object({
    principal: z.string().optional(),
    kind: z.enum(KINDS).optional(),
    finding: z.string().optional(),
    action: z.enum(ACTIONS).optional(),
    session: z.string().optional(),
    before: Cursor.optional(),
  }),
);

/** What the call did, in one cell: the command, the MCP tool, the files, or the arguments. */
function what(t: ToolCallRow): Html {
  if (t.command !== null) return html`<code>${t.command}</code>`;
  if (t.kind === "mcp") return html`<code>${t.mcp_server ?? "?"} · ${t.mcp_tool ?? "?"}</code> <span class="muted">${clip(JSON.stringify(t.arguments) ?? "", 160)}</span>`;
  if (t.paths?.length) return html`${t.paths.map((p) => html`<code>${p}</code> `)}`;
  return html`<code>${clip(JSON.stringify(t.arguments) ?? "", 200)}</code>`;
}

function findings(t: ToolCallRow, params: Params): Html {
  return html`${t.findings.map(
    (f) => html`<div><span class="${f.severity === "high" || f.severity === "critical" ? "bad" : "warn"}">${f.severity}</span>
${filterLink(PATH, params, "finding", f.ruleId)} (${filterLink(PATH, params, "finding", f.category)}) → ${f.action}: ${f.message}</div>`,
  )}`;
}

function result(t: ToolCallRow): Html {
  if (!t.result) return html`<span class="muted">—</span>`;
  const text = clip(t.result.text ?? "", 300);
  return html`<span class="${t.result.is_error ? "bad" : ""}">${t.result.is_error ? "error" : "ok"}</span>${text ? html`<br><code>${text}</code>` : ""}`;
}

/** The calls as a table (also on a request's page). */
export function toolCallTable(calls: readonly ToolCallRow[], viewer: Viewer, params: Params): Html {
  return html`<table><tr><th>time</th>${viewer.admin ? html`<th>principal</th>` : ""}<th>kind</th><th>name</th><th>call</th><th>findings</th>
<th>action</th><th>result</th><th>request</th></tr>
${calls.map((t) => html`<tr><td>${time(t.ts)}</td>${viewer.admin ? html`<td>${filterLink(PATH, params, "principal", t.principal)}</td>` : ""}
<td>${filterLink(PATH, params, "kind", t.kind)}</td><td>${t.parent_id === null ? "" : "↳ "}${t.name}</td><td>${what(t)}</td>
<td>${findings(t, params)}</td><td class="${t.action === "block" ? "bad" : t.action === "flag" ? "warn" : ""}">${t.action}</td>
<td>${result(t)}</td><td><a href="${`/ui/requests/${encodeURIComponent(t.request_id)}`}">${t.request_id.slice(0, 12)}</a></td></tr>`)}</table>`;
}

export async function toolCallsPage(store: Store, query: Record<string, string>, viewer: Viewer): Promise<Page> {
  const q = Query.safeParse(query);
  if (!q.success) return errorPage(400, "Bad filter", zodMessage(q.error));
  const principal = ownPrincipal(viewer, q.data.principal);
  if (typeof principal === "object") return principal;
  const rows = await listToolCalls(store, { ...q.data, principal, limit: PAGE_SIZE + 1 });
  const page = rows.slice(0, PAGE_SIZE);
  const last = page.at(-1);
  const { kind, finding, action, session, before } = query;
  const params: Params = { principal: viewer.admin ? q.data.principal : undefined, kind, finding, action, session, before };
  const more = rows.length > PAGE_SIZE && last ? href(PATH, { ...params, before: `${last.ts}:${last.id}` }) : null;
  return {
    title: "Tool calls",
    body: html`<p class="bar">${choices(PATH, params, "kind", "kind", KINDS)}${choices(PATH, params, "action", "action", ACTIONS)}</p>
${activeFilters(PATH, params, viewer.admin ? ["principal", "finding", "session"] : ["finding", "session"])}
${page.length === 0 ? "" : exportLinks("tool-calls", params)}
${page.length === 0 ? html`<p class="muted">No tool calls${q.data.before ? " older than these" : ""}.</p>` : toolCallTable(page, viewer, params)}
<p class="bar">${q.data.before ? html`<a href="${href(PATH, { ...params, before: undefined })}">« Newest</a> ` : ""}${more ? html`<a href="${more}">Older »</a>` : ""}</p>`,
  };
}
