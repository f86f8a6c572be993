// Charts: a `[data-stats]` element names the /api/stats URL for the viewer's choice; each `[data-chart]` inside it is
// drawn with uPlot from that one answer, and its data table (always in the page for screen readers, shown on request)
// is rendered from the very same series, so what is drawn and what is listed cannot disagree.
import uPlot from "uplot";
import { formatDollars } from "../../config/units.js";
import { StatsResponse } from "../schemas/stats.js";
import { api } from "./api.js";

interface Series {
  readonly label: string;
  readonly values: readonly (number | null)[];
}

/** What a chart draws and its table lists: x values (times, or category indexes) and named series. */
interface ChartData {
  readonly x: readonly number[];
  /** Category names for bar charts; time charts have none. */
  readonly categories?: readonly string[];
  readonly series: readonly Series[];
  readonly format: (v: number) => string;
  /** Values as uPlot draws them (dollars rather than nanodollars). */
  readonly scale?: number;
}

const COLORS = ["#0969da", "#cf222e", "#1a7f37", "#9a6700", "#8250df", "#bc4c00", "#116329", "#a40e26", "#57606a"];
const count = (v: number) => v.toLocaleString("en-US");
/** Tick steps for counts: whole numbers only. */
const WHOLE_STEPS = [1, 2, 5].flatMap((m) => Array.from({ length: 10 }, (_, e) => m * 10 ** e)).sort((a, b) => a - b);
/** Axis ticks in dollars, as short as they can be: $12, $0.5, $0.0003. */
const dollarTick = (v: number) => (v === 0 ? "$0" : `$${Number(v.toPrecision(2))}`);
const time = (ms: number) => `${new Date(ms).toISOString().slice(0, 16).replace("T", " ")}Z`;

type Build = (s: StatsResponse) => ChartData;

const CHARTS: Readonly<Record<string, Build>> = {
  spend: (s) => ({
    x: s.times,
    series: [...s.spend.series.map((g) => ({ label: g.key, values: g.cost_nanos })), ...(s.spend.other ? [{ label: `other (${s.spend.other.keys})`, values: s.spend.other.cost_nanos }] : [])],
    format: formatDollars,
    scale: 1e9,
  }),
  tokens: (s) => ({
    x: s.times,
    series: [...s.spend.series.map((g) => ({ label: g.key, values: g.tokens })), ...(s.spend.other ? [{ label: `other (${s.spend.other.keys})`, values: s.spend.other.tokens }] : [])],
    format: count,
  }),
  requests: (s) => ({
    x: s.times,
    series: [
      { label: "requests", values: s.requests.requests },
      { label: "errors", values: s.requests.errors },
      { label: "denials", values: s.requests.denials },
    ],
    format: count,
  }),
  "tool-calls": (s) => ({ x: s.times, series: s.tool_calls.map((k) => ({ label: k.kind, values: k.calls })), format: count }),
  programs: (s) => ({
    x: s.programs.map((_, i) => i),
    categories: s.programs.map((p) => p.program),
    series: [{ label: "shell commands", values: s.programs.map((p) => p.count) }],
    format: count,
  }),
  findings: (s) => ({ x: s.times, series: s.findings.map((f) => ({ label: f.category, values: f.counts })), format: count }),
  budgets: (s) => ({ x: s.times, series: s.budgets.map((b) => ({ label: b.bucket, values: b.balance_nanos })), format: formatDollars, scale: 1e9 }),
};

function el<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, attrs: Record<string, string> = {}): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

/** The chart's data as a table: one row per time (or category), one column per series. */
function table(data: ChartData, caption: string): HTMLTableElement {
  const t = el("table");
  t.append(el("caption", caption));
  const head = el("tr");
  head.append(el("th", data.categories ? "program" : "time (UTC)", { scope: "col" }), ...data.series.map((s) => el("th", s.label, { scope: "col" })));
  t.appendChild(el("thead")).append(head);
  const body = t.appendChild(el("tbody"));
  data.x.forEach((x, i) => {
    const row = el("tr");
    row.append(el("th", data.categories ? (data.categories[i] ?? "") : time(x), { scope: "row" }));
    for (const s of data.series) {
      const v = s.values[i];
      row.append(el("td", v === null || v === undefined ? "" : data.format(v), { class: "n" }));
    }
    body.append(row);
  });
  return t;
}

function plot(data: ChartData, target: HTMLElement): uPlot {
  const scale = data.scale ?? 1;
  const bars = data.categories !== undefined;
  const width = Math.max(260, Math.min(target.clientWidth || 600, 1200));
  const opts: uPlot.Options = {
    width,
    height: bars ? 260 : 220,
    ms: 1,
    scales: {
      x: { time: !bars, ...(bars ? { range: [-0.5, Math.max(0.5, data.x.length - 0.5)] as uPlot.Range.MinMax } : {}) },
      // Counts and dollars start at zero, so bars and lines compare by height.
      y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] },
    },
    legend: { show: !bars, live: false },
    axes: [
      bars ? { values: (_u, splits) => splits.map((i) => data.categories?.[i] ?? ""), rotate: -40, size: 70, space: 12 } : {},
      { values: (_u, splits) => splits.map((v) => (scale === 1 ? count(v) : dollarTick(v))), size: 76, ...(scale === 1 ? { incrs: WHOLE_STEPS } : {}) },
    ],
    series: [
      {},
      ...data.series.map((s, i) => ({
        label: s.label,
        stroke: COLORS[i % COLORS.length],
        width: 2,
        ...(bars ? { fill: COLORS[0], paths: uPlot.paths.bars?.({ size: [0.6, 60] }) } : {}),
        value: (_u: uPlot, v: number | null) => (v === null ? "—" : data.format(Math.round(v * scale))),
      })),
    ],
  };
  const aligned = [data.x.slice(), ...data.series.map((s) => s.values.map((v) => (v === null ? null : v / scale)))] as uPlot.AlignedData;
  return new uPlot(opts, aligned, target);
}

/** A button that shows and hides the table; hidden, it stays readable by screen readers. */
function toggle(box: HTMLElement): HTMLButtonElement {
  const button = el("button", "Show data table", { type: "button", "aria-expanded": "false" });
  box.classList.add("visually-hidden");
  button.addEventListener("click", () => {
    const shown = box.classList.toggle("visually-hidden") === false;
    button.textContent = shown ? "Hide data table" : "Show data table";
    button.setAttribute("aria-expanded", String(shown));
  });
  return button;
}

function draw(chart: HTMLElement, s: StatsResponse): void {
  const build = CHARTS[chart.dataset.chart ?? ""];
  const plotBox = chart.querySelector<HTMLElement>("[data-plot]");
  const tableBox = chart.querySelector<HTMLElement>("[data-table]");
  if (!build || !plotBox || !tableBox) return;
  const data = build(s);
  const title = chart.querySelector("h2, h3")?.textContent ?? "chart";
  if (data.series.length === 0 || data.x.length === 0) {
    plotBox.replaceChildren(el("p", "No data in this range.", { class: "muted" }));
    return;
  }
  plotBox.replaceChildren();
  const chartPlot = plot(data, plotBox);
  // Follow the page's width (a rotated phone, a resized window).
  let width = plotBox.clientWidth;
  new ResizeObserver(() => {
    if (plotBox.clientWidth === width || plotBox.clientWidth === 0) return;
    width = plotBox.clientWidth;
    chartPlot.setSize({ width: Math.max(260, Math.min(width, 1200)), height: chartPlot.height });
  }).observe(plotBox);
  tableBox.replaceChildren(table(data, title));
  tableBox.before(toggle(tableBox));
}

export function charts(root: Document): void {
  for (const holder of root.querySelectorAll<HTMLElement>("[data-stats]")) {
    const url = holder.dataset.stats ?? "";
    const status = holder.querySelector<HTMLElement>("[data-status]");
    void api(StatsResponse, "GET", url).then((answer) => {
      if (!answer.ok) {
        if (status) status.textContent = `The charts could not be loaded: ${answer.error.message}`;
        return;
      }
      for (const chart of holder.querySelectorAll<HTMLElement>("[data-chart]")) draw(chart, answer.value);
      holder.dataset.drawn = "true";
      if (status) status.textContent = "";
    });
  }
}
