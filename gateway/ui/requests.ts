// /ui/requests (newest first, filters in the query string, paged by a `before` cursor) and /ui/requests/:id (the row,
// its capture and its tool calls).
import { html } from "hono/html";
import { z } from "zod";
import type { Config } from "../config/schema.js";
import { zodMessage } from "../http/api-error.js";
import { captureView } from "../api/requests.js";
import type { Store } from "../store/db.js";
import type { RequestFilter, RequestLog, RequestRow } from "../store/requests.js";
import { listToolCalls } from "../store/tool-calls.js";
import {
  type Html,
  type Page,
  type Params,
  type Viewer,
  Cursor,
  activeFilters,
  blankless,
  choices,
  dollars,
  errorPage,
  filterLink,
  href,
  num,
  ownPrincipal,
  pretty,
  time,
} from "./layout.js";
import { toolCallTable } from "./tool-calls.js";
import { exportLinks } from "./export-links.js";

const PAGE_SIZE = 50;
const PATH = "/ui/requests";
const STATUS = ["2xx", "3xx", "4xx", "5xx", "denied"] as const;

const ListQuery = z.preprocess(
  blankless,
  z.object({
    principal: z.string().optional(),
    model: z.string().optional(),
    provider: z.string().optional(),
    session: z.string().optional(),
    status: z.enum(STATUS).optional(),
    before: Cursor.optional(),
  }),
);

export function statusCell(r: Pick<RequestRow, "status" | "denial" | "error">): Html {
  const bad = r.status >= 400 || r.denial !== null || r.error !== null;
  return html`<span class="${bad ? "bad" : ""}">${r.status}</span>${r.denial ? html`<br><span class="bad">${r.denial}</span>` : ""}${r.error ? html`<br><span class="bad">${r.error}</span>` : ""}`;
}

export async function requestsPage(log: RequestLog, query: Record<string, string>, viewer: Viewer): Promise<Page> {
  const q = ListQuery.safeParse(query);
  if (!q.success) return errorPage(400, "Bad filter", zodMessage(q.error));
  const principal = ownPrincipal(viewer, q.data.principal);
  if (typeof principal === "object") return principal;
  const filter: RequestFilter = { ...q.data, principal, limit: PAGE_SIZE + 1 };
  const rows = await log.list(filter);
  const page = rows.slice(0, PAGE_SIZE);
  const last = page.at(-1);
  const { model, provider, session, status, before } = query;
  const params: Params = { principal: viewer.admin ? q.data.principal : undefined, model, provider, session, status, before };
  const more = rows.length > PAGE_SIZE && last ? href(PATH, { ...params, before: `${last.ts}:${last.id}` }) : null;
  const f = (key: string, value: string | null, text?: string) => filterLink(PATH, params, key, value, text);
  return {
    title: "Requests",
    body: html`<p class="bar">${choices(PATH, params, "status", "status", STATUS)}</p>
${activeFilters(PATH, params, viewer.admin ? ["principal", "model", "provider", "session"] : ["model", "provider", "session"])}
${page.length === 0 ? "" : exportLinks("requests", params)}
${page.length === 0
  ? html`<p class="muted">No requests${q.data.before ? " older than these" : ""}.</p>`
  : html`<table><tr><th>time</th>${viewer.admin ? html`<th>principal</th>` : ""}<th>provider</th><th>model</th><th>status</th>
<th>duration</th><th>input</th><th>cached</th><th>output</th><th>cost</th><th>tools</th><th>session</th></tr>
${page.map((r) => html`<tr><td><a href="${`${PATH}/${encodeURIComponent(r.id)}`}">${time(r.ts)}</a></td>
${viewer.admin ? html`<td>${f("principal", r.principal)}</td>` : ""}<td>${f("provider", r.provider)}</td><td>${f("model", r.model)}</td>
<td>${statusCell(r)}</td><td class="n">${Math.round(r.duration_ms)} ms</td><td class="n">${num(r.input_tokens)}</td>
<td class="n">${num(r.cache_read_tokens + r.cache_write_tokens)}</td><td class="n">${num(r.output_tokens)}</td>
<td class="n">${dollars(r.cost_nanos)}</td><td class="n">${r.tool_calls || ""}</td>
<td>${r.session_id ? f("session", r.session_id, r.session_id.slice(0, 12)) : html`<span class="muted">${(r.client_session ?? "").slice(0, 12)}</span>`}</td></tr>`)}
</table>`}
<p class="bar">${q.data.before ? html`<a href="${href(PATH, { ...params, before: undefined })}">« Newest</a> ` : ""}${more ? html`<a href="${more}">Older »</a>` : ""}</p>`,
  };
}

function headerTable(headers: Readonly<Record<string, string>>): Html {
  const entries = Object.entries(headers);
  if (entries.length === 0) return html`<p class="muted">none</p>`;
  return html`<table>${entries.map(([k, v]) => html`<tr><th>${k}</th><td><code>${v}</code></td></tr>`)}</table>`;
}

export async function requestPage(log: RequestLog, store: Store, config: Config, id: string, viewer: Viewer): Promise<Page> {
  const found = await log.get(id);
  // Another principal's request is "not found" for a user: existence is not disclosed either.
  if (!found || (!viewer.admin && found.row.principal !== viewer.principal)) return errorPage(404, "Not found", `No request ${id}.`);
  const r = found.row;
  const capture = found.capture && captureView(r, found.capture, config);
  const calls = await listToolCalls(store, { requestId: r.id, limit: 1000 });
  const field = (name: string, value: Html | string | number | null) => html`<dt>${name}</dt><dd>${value ?? ""}</dd>`;
  const filter = (key: string, value: string | null) => filterLink(PATH, {}, key, value);
  return {
    title: `Request ${r.id}`,
    body: html`<dl>
${field("time", time(r.ts))}
${field("principal", viewer.admin ? filter("principal", r.principal) : r.principal)}
${field("login", r.login)}${field("node", r.node_name ?? r.node_id)}${field("tags", r.tags.join(", "))}
${field("CI session", r.session_id ? html`${filter("session", r.session_id)} · <a href="${`/ci/sessions/${encodeURIComponent(r.session_id)}`}">report</a>` : null)}
${field("client session", r.client_session)}${field("user agent", r.user_agent)}
${field("provider / model", html`${filter("provider", r.provider)} / ${filter("model", r.model)}`)}
${field("route", html`${r.route} · <code>${r.method} ${r.path}</code>`)}
${field("status", statusCell(r))}
${field("duration", `${Math.round(r.duration_ms)} ms${r.ttfb_ms === null ? "" : ` (first byte ${Math.round(r.ttfb_ms)} ms)`}${r.streamed ? ", streamed" : ""}`)}
${field("tokens", `${num(r.input_tokens)} in, ${num(r.cache_read_tokens)} cache read, ${num(r.cache_write_tokens)} cache write, ${num(r.output_tokens)} out, ${num(r.reasoning_tokens)} reasoning`)}
${field("cost", dollars(r.cost_nanos))}${field("flags", r.flags.join(", "))}
</dl>
<h2>Tool calls</h2>${calls.length ? toolCallTable(calls, viewer, {}) : html`<p class="muted">none</p>`}
${capture
  ? html`<h2>Request headers</h2>${headerTable(capture.request.headers)}
<h2>Request body${capture.request.truncated ? " (truncated)" : ""}</h2><pre>${pretty(capture.request.body)}</pre>
<h2>Response headers</h2>${headerTable(capture.response.headers)}
${capture.response.rebuilt === undefined
  ? html`<h2>Response body${capture.response.truncated ? " (truncated)" : ""}</h2><pre>${pretty(capture.response.body)}</pre>`
  : html`<h2>Response (rebuilt from the stream)${capture.response.truncated ? " (truncated)" : ""}</h2><pre>${pretty(capture.response.rebuilt)}</pre>
<details><summary>Raw stream</summary><pre>${pretty(capture.response.body)}</pre></details>`}`
  : html`<h2>Capture</h2><p class="muted">No capture (purged by retention, or none was recorded).</p>`}`,
  };
}
