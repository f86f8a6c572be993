// /ui/repos (every repository CI sessions ran in), /ui/repos/:owner/:repo (its spend, PRs, sessions, top commands and
// findings) and /ui/repos/:owner/:repo/pulls/:n (every run of one PR: each session's requests and tool calls, and the
// check run). Users see only what their own principal did.
import { html } from "hono/html";
import type { Store } from "../store/db.js";
import type { RequestLog, RequestRow } from "../store/requests.js";
import { sessionList } from "../store/session-report.js";
import { listToolCalls } from "../store/tool-calls.js";
import { findingsByRule, repoList, repoPrs, topCommands } from "../stats/repos.js";
import { chartChoice, chartSection } from "./chart-section.js";
import { type Html, type Page, type Viewer, dollars, errorPage, href, num, time } from "./layout.js";
import { statusCell } from "./requests.js";
import { toolCallTable } from "./tool-calls.js";
import { sessionTable } from "./session-table.js";
import { prPagePath, repoPagePath } from "./schemas/paths.js";

const repoPath = repoPagePath;
const prPath = prPagePath;

const own = (viewer: Viewer) => (viewer.admin ? {} : { principal: viewer.principal });

export async function reposPage(store: Store, viewer: Viewer): Promise<Page> {
  const rows = await repoList(store, own(viewer));
  return {
    title: "Repositories",
    body: rows.length === 0
      ? html`<p class="muted">No CI sessions${viewer.admin ? "" : ` with requests from ${viewer.principal}`} yet.</p>`
      : html`<table><thead><tr><th scope="col">repository</th><th scope="col">PRs</th><th scope="col">sessions</th><th scope="col">requests</th>
<th scope="col">spend</th><th scope="col">last run</th></tr></thead><tbody>
${rows.map((r) => html`<tr><td><a href="${repoPath(r.repository)}">${r.repository}</a></td><td class="n">${num(r.prs)}</td><td class="n">${num(r.sessions)}</td>
<td class="n">${num(r.requests)}</td><td class="n">${dollars(r.cost_nanos)}</td><td>${time(r.last_started)}</td></tr>`)}</tbody></table>`,
  };
}

function commandsTable(rows: Awaited<ReturnType<typeof topCommands>>): Html {
  if (rows.length === 0) return html`<p class="muted">No shell commands.</p>`;
  return html`<table><thead><tr><th scope="col">command</th><th scope="col">runs</th><th scope="col">blocked</th></tr></thead><tbody>
${rows.map((c) => html`<tr><td><code>${c.command}</code></td><td class="n">${num(c.runs)}</td><td class="n ${c.blocked ? "bad" : ""}">${c.blocked || ""}</td></tr>`)}</tbody></table>`;
}

function findingsTable(rows: Awaited<ReturnType<typeof findingsByRule>>): Html {
  if (rows.length === 0) return html`<p class="muted">No guardrail findings.</p>`;
  return html`<table><thead><tr><th scope="col">rule</th><th scope="col">category</th><th scope="col">severity</th><th scope="col">calls</th></tr></thead><tbody>
${rows.map((f) => html`<tr><td><a href="${href("/ui/tool-calls", { finding: f.rule })}">${f.rule}</a></td><td>${f.category}</td>
<td class="${f.severity === "high" || f.severity === "critical" ? "bad" : "warn"}">${f.severity}</td><td class="n">${num(f.count)}</td></tr>`)}</tbody></table>`;
}

export async function repoPage(store: Store, repository: string, query: Record<string, string>, viewer: Viewer): Promise<Page> {
  const choice = chartChoice(query);
  if ("error" in choice) return errorPage(400, "Bad chart choice", choice.error);
  const sessions = await sessionList(store, { ...own(viewer), repository, limit: 100 });
  if (sessions.length === 0) return errorPage(404, "Not found", `No CI sessions${viewer.admin ? "" : " with your requests"} in ${repository}.`);
  const prs = await repoPrs(store, repository, own(viewer));
  return {
    title: repository,
    body: html`${chartSection({ path: repoPath(repository), params: choice.params, scope: { repository }, charts: ["spend", "tool-calls", "programs", "findings"], groups: viewer.admin ? ["model", "principal", "pr"] : ["model", "pr"] })}
<h2>Pull requests</h2>${prs.length === 0
      ? html`<p class="muted">No sessions ran for a PR.</p>`
      : html`<table><thead><tr><th scope="col">PR</th><th scope="col">sessions</th><th scope="col">requests</th><th scope="col">spend</th><th scope="col">last run</th></tr></thead><tbody>
${prs.map((p) => html`<tr><td><a href="${prPath(repository, p.pr_number)}">#${p.pr_number}</a></td><td class="n">${num(p.sessions)}</td><td class="n">${num(p.requests)}</td>
<td class="n">${dollars(p.cost_nanos)}</td><td>${time(p.last_started)}</td></tr>`)}</tbody></table>`}
<h2>Sessions</h2>${sessionTable(sessions)}
<h2>Top commands</h2>${commandsTable(await topCommands(store, repository, undefined, own(viewer)))}
<h2>Findings</h2>${findingsTable(await findingsByRule(store, repository, undefined, own(viewer)))}`,
  };
}

function requestTable(rows: readonly RequestRow[], viewer: Viewer): Html {
  return html`<table><thead><tr><th scope="col">time</th>${viewer.admin ? html`<th scope="col">principal</th>` : ""}<th scope="col">model</th><th scope="col">status</th>
<th scope="col">input</th><th scope="col">output</th><th scope="col">cost</th><th scope="col">tools</th></tr></thead><tbody>
${rows.map((r) => html`<tr><td><a href="${`/ui/requests/${encodeURIComponent(r.id)}`}">${time(r.ts)}</a></td>${viewer.admin ? html`<td>${r.principal}</td>` : ""}
<td>${r.provider ?? ""}/${r.model ?? ""}</td><td>${statusCell(r)}</td><td class="n">${num(r.input_tokens)}</td><td class="n">${num(r.output_tokens)}</td>
<td class="n">${dollars(r.cost_nanos)}</td><td class="n">${r.tool_calls || ""}</td></tr>`)}</tbody></table>`;
}

const REQUESTS_PER_SESSION = 50;
const CALLS_PER_SESSION = 100;

export async function prPage(store: Store, log: RequestLog, repository: string, pr: number, viewer: Viewer): Promise<Page> {
  const sessions = await sessionList(store, { ...own(viewer), repository, pr, limit: 100 });
  if (sessions.length === 0) return errorPage(404, "Not found", `No CI sessions${viewer.admin ? "" : " with your requests"} for ${repository}#${pr}.`);
  const principal = viewer.admin ? undefined : viewer.principal;
  const runs = await Promise.all(
    sessions.map(async (row) => ({
      row,
      requests: await log.list({ session: row.session.id, principal, limit: REQUESTS_PER_SESSION }),
      calls: await listToolCalls(store, { session: row.session.id, principal, limit: CALLS_PER_SESSION }),
    })),
  );
  const total = sessions.reduce((t, s) => ({ requests: t.requests + s.requests, cost: t.cost + s.cost_nanos }), { requests: 0, cost: 0 });
  return {
    title: `${repository} #${pr}`,
    body: html`<p><a href="${repoPath(repository)}">${repository}</a> · ${num(sessions.length)} session${sessions.length === 1 ? "" : "s"} · ${num(total.requests)} requests · ${dollars(total.cost)}</p>
${chartSection({ path: prPath(repository, pr), params: { from: String(Math.min(...sessions.map((r) => r.session.started_at))) }, scope: { repository, pr: String(pr) }, charts: ["tool-calls", "programs"], groups: ["model"] })}
<h2>Sessions</h2>${sessionTable(sessions)}
${runs.map(({ row: { session: s }, requests, calls }) => html`<section aria-labelledby="${`run-${s.id}`}"><h2 id="${`run-${s.id}`}">Run ${s.run_id}.${s.run_attempt} · ${s.workflow}${s.job ? ` / ${s.job}` : ""}</h2>
<p>${time(s.started_at)} · ${s.actor} · ${s.event} · <a href="${`/ci/sessions/${encodeURIComponent(s.id)}`}">report</a>${s.check_run_url ? html` · <a href="${s.check_run_url}" rel="noreferrer">check run on GitHub</a>` : ""}</p>
<h3>Requests</h3>${requests.length === 0 ? html`<p class="muted">none</p>` : requestTable(requests, viewer)}
${requests.length === REQUESTS_PER_SESSION ? html`<p><a href="${href("/ui/requests", { session: s.id })}">All requests of this session</a></p>` : ""}
<h3>Tool calls</h3>${calls.length === 0 ? html`<p class="muted">none</p>` : toolCallTable(calls, viewer, {})}
${calls.length === CALLS_PER_SESSION ? html`<p><a href="${href("/ui/tool-calls", { session: s.id })}">All tool calls of this session</a></p>` : ""}</section>`)}`,
  };
}
