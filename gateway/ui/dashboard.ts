// /ui/: charts over the viewer's range and grouping first (chart-section.ts, drawn from /api/stats), then spend and
// tokens today and over the last 7 days (UTC days) by day, model and — for admins — principal; requests, errors and
// denials; the budget buckets the viewer may see.
import { html } from "hono/html";
import { type BucketView, visibleBuckets } from "../quotas/api.js";
import type { Caller } from "../access/caller.js";
import { BucketStoreUnavailable } from "../quotas/bucket-store.js";
import type { RequestCounts, UsageGroup } from "../store/requests.js";
import type { UiDeps } from "./deps.js";
import { type Html, type Page, type Viewer, dollars, errorPage, href, num } from "./layout.js";
import { chartChoice, chartSection } from "./chart-section.js";

const DAY_MS = 86_400_000;

interface Sum {
  requests: number;
  input: number;
  cached: number;
  output: number;
  cost: number;
  unpriced: number;
}

const empty = (): Sum => ({ requests: 0, input: 0, cached: 0, output: 0, cost: 0, unpriced: 0 });

function add(sum: Sum, u: UsageGroup): void {
  sum.requests += u.requests;
  sum.input += u.input_tokens;
  sum.cached += u.cache_read_tokens + u.cache_write_tokens;
  sum.output += u.output_tokens;
  sum.cost += u.cost_nanos;
  sum.unpriced += u.unpriced_requests;
}

/** Usage rows summed by `key`, with today's and the week's totals side by side, most expensive first. */
function grouped(rows: readonly UsageGroup[], today: string, key: (u: UsageGroup) => string) {
  const out = new Map<string, { today: Sum; week: Sum }>();
  for (const u of rows) {
    const k = key(u);
    const entry = out.get(k) ?? { today: empty(), week: empty() };
    add(entry.week, u);
    if (u.day === today) add(entry.today, u);
    out.set(k, entry);
  }
  return [...out.entries()].sort((a, b) => b[1].week.cost - a[1].week.cost || a[0].localeCompare(b[0]));
}

const cost = (s: Sum) => html`${dollars(s.cost)}${s.unpriced ? html` <span class="warn">+${s.unpriced} unpriced</span>` : ""}`;

function cards(label: string, s: Sum, counts: RequestCounts): Html {
  return html`<h2>${label}</h2><div class="cards">
<div class="card">spend<b>${cost(s)}</b></div>
<div class="card">requests<b>${num(counts.requests)}</b></div>
<div class="card">errors<b class="${counts.errors ? "bad" : ""}">${num(counts.errors)}</b></div>
<div class="card">denials<b class="${counts.denials ? "bad" : ""}">${num(counts.denials)}</b></div>
<div class="card">input tokens<b>${num(s.input)}</b><span class="muted">+ ${num(s.cached)} cached</span></div>
<div class="card">output tokens<b>${num(s.output)}</b></div>
</div>`;
}

function table(title: string, head: string, rows: ReturnType<typeof grouped>, link: (k: string) => Html): Html {
  if (rows.length === 0) return html``;
  return html`<h2>${title}</h2><table><tr><th>${head}</th><th>requests today</th><th>spend today</th><th>requests 7d</th>
<th>input 7d</th><th>cached 7d</th><th>output 7d</th><th>spend 7d</th></tr>
${rows.map(([k, { today, week }]) => html`<tr><td>${link(k)}</td><td class="n">${num(today.requests)}</td><td class="n">${cost(today)}</td>
<td class="n">${num(week.requests)}</td><td class="n">${num(week.input)}</td><td class="n">${num(week.cached)}</td>
<td class="n">${num(week.output)}</td><td class="n">${cost(week)}</td></tr>`)}</table>`;
}

function buckets(list: readonly BucketView[] | string): Html {
  if (typeof list === "string") return html`<h2>Budgets</h2><p class="bad">${list}</p>`;
  if (list.length === 0) return html`<h2>Budgets</h2><p class="muted">No budget buckets apply.</p>`;
  return html`<h2>Budgets</h2><table><tr><th>bucket</th><th>quota</th><th>balance</th><th>capacity</th><th></th><th>refill</th><th>in flight</th></tr>
${list.map((b) => html`<tr><td><code>${b.bucket}</code></td><td>${b.quota}${b.defined ? "" : html` <span class="warn">(no longer defined)</span>`}</td>
<td class="n ${b.balance_nanos <= 0 ? "bad" : ""}">${b.balance}</td><td class="n">${b.capacity ?? ""}</td>
<td>${b.capacity_nanos ? html`<meter min="0" max="${b.capacity_nanos}" low="${b.capacity_nanos / 10}" optimum="${b.capacity_nanos}" value="${Math.max(0, b.balance_nanos)}"></meter>` : ""}</td>
<td>${b.rate ?? ""}</td><td class="n">${dollars(b.reserved_nanos)}</td></tr>`)}</table>`;
}

export async function dashboardPage(deps: UiDeps, caller: Caller, viewer: Viewer, query: Record<string, string> = {}, now = Date.now()): Promise<Page> {
  const choice = chartChoice(query);
  if ("error" in choice) return errorPage(400, "Bad chart choice", choice.error);
  const todayStart = now - (now % DAY_MS);
  const weekStart = todayStart - 6 * DAY_MS;
  const today = new Date(todayStart).toISOString().slice(0, 10);
  const principal = viewer.admin ? undefined : viewer.principal;
  const usage = await deps.log.usage({ principal, since: weekStart });
  const [todayCounts, weekCounts] = await Promise.all([deps.log.counts({ principal, since: todayStart }), deps.log.counts({ principal, since: weekStart })]);
  const sum = (rows: readonly UsageGroup[]) => rows.reduce((s, u) => (add(s, u), s), empty());
  const byDay = grouped(usage, today, (u) => u.day).sort((a, b) => b[0].localeCompare(a[0]));
  const byModel = grouped(usage, today, (u) => `${u.provider ?? "?"}/${u.model ?? "?"}`);
  const byPrincipal = viewer.admin ? grouped(usage, today, (u) => u.principal) : [];
  let bucketList: BucketView[] | string;
  try {
    bucketList = await visibleBuckets({ store: deps.buckets, sessionFor: deps.sessionFor }, caller);
  } catch (err) {
    if (!(err instanceof BucketStoreUnavailable)) throw err;
    bucketList = `The budget store cannot be reached: ${err.message}`;
  }
  const model = (k: string) => {
    const [provider, ...rest] = k.split("/");
    if (provider === "?" || rest.join("/") === "?") return html`${k}`;
    return html`<a href="${href("/ui/requests", { provider, model: rest.join("/") })}">${k}</a>`;
  };
  return {
    title: viewer.admin ? "Dashboard" : `Dashboard · ${viewer.principal}`,
    body: html`${chartSection({
      path: "/ui/",
      params: choice.params,
      charts: ["spend", "requests", "tool-calls", "programs", "tokens", "findings", "budgets"],
      groups: viewer.admin ? ["model", "principal", "repository", "pr"] : ["model", "repository", "pr"],
    })}
${cards("Today (UTC)", sum(usage.filter((u) => u.day === today)), todayCounts)}
${cards("Last 7 days", sum(usage), weekCounts)}
${table("By day", "day", byDay, (k) => html`${k}`)}
${table("By model", "provider/model", byModel, model)}
${table("By principal", "principal", byPrincipal, (k) => html`<a href="${href("/ui/requests", { principal: k })}">${k}</a>`)}
${buckets(bucketList)}`,
  };
}
