// CI sessions as a table (repository and PR pages): run, status, totals and links to the report and the check run.
import { html } from "hono/html";
import type { SessionListRow } from "../store/session-report.js";
import { type Html, dollars, href, num, time } from "./layout.js";

export function sessionTable(rows: readonly SessionListRow[]): Html {
  return html`<table><thead><tr><th scope="col">started</th><th scope="col">PR</th><th scope="col">workflow / job</th><th scope="col">actor</th>
<th scope="col">status</th><th scope="col">requests</th><th scope="col">spend</th><th scope="col">flagged calls</th><th scope="col">links</th></tr></thead><tbody>
${rows.map(({ session: s, ...t }) => html`<tr><td>${time(s.started_at)}</td><td>${s.pr_number === null ? "" : `#${s.pr_number}`}</td>
<td>${s.workflow}${s.job ? ` / ${s.job}` : ""} <span class="muted">run ${s.run_id}.${s.run_attempt}</span></td><td>${s.actor}</td>
<td>${s.finished_at === null ? html`<b>running</b>` : s.finish_reason === "idle" ? "idle, closed" : "finished"}</td>
<td class="n"><a href="${href("/ui/requests", { session: s.id })}">${num(t.requests)}</a></td><td class="n">${dollars(t.cost_nanos)}</td>
<td class="n ${t.flagged_tool_calls ? "warn" : ""}">${t.flagged_tool_calls || ""}</td>
<td><a href="${`/ci/sessions/${encodeURIComponent(s.id)}`}">report</a>${s.check_run_url ? html` · <a href="${s.check_run_url}" rel="noreferrer">check run</a>` : ""}</td></tr>`)}</tbody></table>`;
}
