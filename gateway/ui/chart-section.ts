// The charts block of a page: the viewer's range and grouping as links (so the choice is in the URL and the back
// button), and one placeholder per chart that the UI's script (client/charts.ts) fills from /api/stats. Without
// JavaScript the page's tables still say everything.
import { html } from "hono/html";
import { zodMessage } from "../http/api-error.js";
import { type Html, type Params, href, time } from "./layout.js";
import { GROUPS, RANGES, StatsQuery } from "./schemas/stats.js";

export const CHART_TITLES = {
  spend: "Spend",
  tokens: "Tokens",
  requests: "Requests, errors and denials",
  "tool-calls": "Tool calls by kind",
  programs: "Top shell programs",
  findings: "Guardrail findings by category",
  budgets: "Budget burn-down (balance per bucket)",
} as const;
export type ChartName = keyof typeof CHART_TITLES;

const GROUP_TEXT: Record<(typeof GROUPS)[number], string> = { model: "model", principal: "principal", repository: "repository", pr: "PR" };

/** The page's chart choices from its query string: what /api/stats is asked, and what the links keep. */
export function chartChoice(query: Record<string, string>): { params: Params } | { error: string } {
  const picked = { range: query.range, from: query.from, to: query.to, step: query.step, group: query.group };
  const parsed = StatsQuery.safeParse(Object.fromEntries(Object.entries(picked).filter((e): e is [string, string] => e[1] !== undefined)));
  return parsed.success ? { params: picked } : { error: zodMessage(parsed.error) };
}

/** "label: a · b · c" links that set `key`, the current one bold; picking a range drops an explicit from/to window. */
function links(path: string, params: Params, key: string, label: string, options: readonly (readonly [string | undefined, string])[], current: string | undefined): Html {
  const base = key === "range" ? { ...params, from: undefined, to: undefined } : params;
  const link = ([value, text]: readonly [string | undefined, string]) =>
    value === current ? html`<b aria-current="true">${text}</b>` : html`<a href="${href(path, { ...base, [key]: value })}">${text}</a>`;
  return html`<span>${label}: ${options.map((o, i) => html`${i ? " · " : ""}${link(o)}`)}</span>`;
}

/** A from/to value as people read it (epoch milliseconds become an ISO time). */
const instant = (v: string | undefined) => (v === undefined || v === "" ? undefined : /^\d+$/.test(v) ? time(Number(v)) : v);

export interface ChartSectionOptions {
  /** The page the choice links point at. */
  readonly path: string;
  readonly params: Params;
  /** Fixed filters of this page (a repository, a PR), sent to /api/stats but not offered as choices. */
  readonly scope?: Params;
  readonly charts: readonly ChartName[];
  /** Groupings offered (users are not offered "principal": they only have their own). */
  readonly groups: readonly (typeof GROUPS)[number][];
}

export function chartSection(o: ChartSectionOptions): Html {
  const { params } = o;
  const range = params.from || params.to ? undefined : (params.range ?? "24h");
  const group = GROUPS.find((g) => g === params.group) ?? "model";
  const api = href("/api/stats", { ...params, ...o.scope });
  const ranges = Object.keys(RANGES).map((r) => [r === "24h" ? undefined : r, `last ${r}`] as const);
  const title = (name: ChartName) => (name === "spend" || name === "tokens" ? `${CHART_TITLES[name]} by ${GROUP_TEXT[group]}` : CHART_TITLES[name]);
  return html`<section class="stats" data-stats="${api}" aria-label="Charts">
<div class="choices">${links(o.path, params, "range", "range", ranges, range === undefined ? "custom" : range === "24h" ? undefined : range)}${
    o.groups.length > 1 ? links(o.path, params, "group", "group by", o.groups.map((g) => [g === "model" ? undefined : g, GROUP_TEXT[g]] as const), group === "model" ? undefined : group) : ""
  }${params.from || params.to ? html`<span>from ${instant(params.from) ?? "the start"} to ${instant(params.to) ?? "now"}</span>` : ""}</div>
<p class="muted" data-status role="status">Charts need JavaScript; the tables below hold the same numbers.</p>
<div class="charts">${o.charts.map(
    (name) => html`<section class="chart" data-chart="${name}" aria-labelledby="${`chart-${name}`}"><h2 id="${`chart-${name}`}">${title(name)}</h2>
<div data-plot role="img" aria-label="${`${title(name)}: chart; the data table has its numbers`}"></div><div data-table></div></section>`,
  )}</div></section>`;
}
