// /ui/sessions: CI sessions newest first with repository, PR, status and cost, linked to their report (/ci/sessions/:id)
// and their requests. Users see the sessions they made requests in, totalled over their own requests.
import { html } from "hono/html";
import type { Store } from "../store/db.js";
import { sessionList } from "../store/session-report.js";
import type { SessionRecord } from "../store/sessions.js";
import { type Page, type Viewer, dollars, href, num, time } from "./layout.js";

const LIMIT = 200;

function status(s: SessionRecord) {
  if (s.finished_at === null) return html`<b>running</b>`;
  return html`${s.finish_reason === "idle" ? "idle, closed" : "finished"} <span class="muted">${time(s.finished_at)}</span>`;
}

export async function sessionsPage(store: Store, viewer: Viewer): Promise<Page> {
  const rows = await sessionList(store, { principal: viewer.admin ? undefined : viewer.principal, limit: LIMIT });
  return {
    title: "CI sessions",
    body: rows.length === 0
      ? html`<p class="muted">No CI sessions${viewer.admin ? "" : ` with requests from ${viewer.principal}`}.</p>`
      : html`<table><tr><th>started</th><th>repository</th><th>PR</th><th>workflow / job</th><th>actor</th><th>event</th><th>status</th>
<th>requests</th><th>input</th><th>output</th><th>cost</th><th>denials</th><th>flagged calls</th><th></th></tr>
${rows.map(({ session: s, ...t }) => html`<tr><td>${time(s.started_at)}</td><td>${s.repository}</td><td>${s.pr_number === null ? "" : `#${s.pr_number}`}</td>
<td>${s.workflow}${s.job ? ` / ${s.job}` : ""} <span class="muted">run ${s.run_id}.${s.run_attempt}</span></td><td>${s.actor}</td><td>${s.event}</td>
<td>${status(s)}</td><td class="n"><a href="${href("/ui/requests", { session: s.id })}">${num(t.requests)}</a></td>
<td class="n">${num(t.input_tokens)}</td><td class="n">${num(t.output_tokens)}</td><td class="n">${dollars(t.cost_nanos)}</td>
<td class="n ${t.denials ? "bad" : ""}">${t.denials || ""}</td>
<td class="n ${t.flagged_tool_calls ? "warn" : ""}">${t.flagged_tool_calls ? html`<a href="${href("/ui/tool-calls", { session: s.id })}">${t.flagged_tool_calls}</a>` : ""}</td>
<td><a href="${`/ci/sessions/${encodeURIComponent(s.id)}`}">report</a></td></tr>`)}</table>
${rows.length === LIMIT ? html`<p class="muted">The newest ${LIMIT} sessions.</p>` : ""}`,
  };
}
