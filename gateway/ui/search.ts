// /ui/search: requests and tool calls by principal, model, command text, finding and session, each list with its
// CSV and JSON export (/api/export/*, the same filters).
import { html } from "hono/html";
import { zodMessage } from "../http/api-error.js";
import type { Store } from "../store/db.js";
import type { RequestLog } from "../store/requests.js";
import { SearchFilter, searchRequests, searchToolCalls } from "../stats/search.js";
import { type Page, type Params, type Viewer, dollars, errorPage, href, num, ownPrincipal, time } from "./layout.js";
import { statusCell } from "./requests.js";
import { toolCallTable } from "./tool-calls.js";
import { exportLinks } from "./export-links.js";

const FIELDS = ["principal", "model", "command", "finding", "session"] as const;
const LIMIT = 100;

export async function searchPage(store: Store, log: RequestLog, query: Record<string, string>, viewer: Viewer): Promise<Page> {
  const q = SearchFilter.safeParse(Object.fromEntries(FIELDS.map((k) => [k, query[k] ?? ""])));
  if (!q.success) return errorPage(400, "Bad search", zodMessage(q.error));
  const principal = ownPrincipal(viewer, q.data.principal);
  if (typeof principal === "object") return principal;
  const params: Params = Object.fromEntries(FIELDS.map((k) => [k, q.data[k]]));
  const input = (name: (typeof FIELDS)[number], label: string, hint: string) =>
    html`<label>${label}<input name="${name}" value="${params[name] ?? ""}" placeholder="${hint}"></label>`;
  const form = html`<form class="search" method="get" action="/ui/search" role="search">
${viewer.admin ? input("principal", "Principal", "alice@example.com") : ""}${input("model", "Model", "claude-sonnet-4-6")}
${input("command", "Command text", "npm test")}${input("finding", "Finding (rule or category)", "destructive_fs")}${input("session", "Session", "session id")}
<button type="submit">Search</button></form>`;
  if (FIELDS.every((k) => !params[k])) return { title: "Search", body: html`${form}<p class="muted">Fill in any field: each narrows the results.</p>` };
  const filter = { ...q.data, principal };
  const [requests, calls] = await Promise.all([searchRequests(store, log, filter, LIMIT), searchToolCalls(store, filter, LIMIT)]);
  const more = (n: number) => (n === LIMIT ? html` <span class="muted">(the newest ${LIMIT}; the export has up to 10,000)</span>` : "");
  return {
    title: "Search",
    body: html`${form}
<h2>Requests (${num(requests.length)})${more(requests.length)}</h2>
${requests.length === 0 ? html`<p class="muted">No requests match.</p>` : html`${exportLinks("requests", params)}
<table><thead><tr><th scope="col">time</th>${viewer.admin ? html`<th scope="col">principal</th>` : ""}<th scope="col">model</th><th scope="col">status</th><th scope="col">cost</th><th scope="col">tools</th><th scope="col">session</th></tr></thead><tbody>
${requests.map((r) => html`<tr><td><a href="${`/ui/requests/${encodeURIComponent(r.id)}`}">${time(r.ts)}</a></td>${viewer.admin ? html`<td>${r.principal}</td>` : ""}
<td>${r.provider ?? ""}/${r.model ?? ""}</td><td>${statusCell(r)}</td><td class="n">${dollars(r.cost_nanos)}</td><td class="n">${r.tool_calls || ""}</td>
<td>${r.session_id ? html`<a href="${href("/ui/search", { ...params, session: r.session_id })}">${r.session_id.slice(0, 12)}</a>` : ""}</td></tr>`)}</tbody></table>`}
<h2>Tool calls (${num(calls.length)})${more(calls.length)}</h2>
${calls.length === 0 ? html`<p class="muted">No tool calls match.</p>` : html`${exportLinks("tool-calls", params)}${toolCallTable(calls, viewer, {})}`}`,
  };
}
