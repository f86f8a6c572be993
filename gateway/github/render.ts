// Renders a session's report as the check run's title and Markdown summary (also the Action's job summary),
// within GitHub's limits: output.summary and output.text hold at most 65535 characters.
import type { ReportData } from "../../src/ci-session.js";
import { formatDollars } from "../config/units.js";

/** GitHub's limit for output.summary and output.text. String length (UTF-16 units) never undercounts characters. */
export const SUMMARY_LIMIT = 65_535;
/** A single command is cut at this many characters. */
const COMMAND_MAX = 300;
/** Table rows beyond these are counted, not shown. */
const ROW_LIMIT = 50;

const SEVERITY_ORDER = ["critical", "high", "medium", "low"] as const;

/** True when a guardrail blocked something or a finding is high or critical: the conclusion may then be configured. */
export function isFlagged(d: ReportData): boolean {
  return (
    d.findings.some((f) => f.severity === "high" || f.severity === "critical") ||
    d.commands.some((c) => c.blocked) ||
    d.problems.some((p) => p.kind === "guardrail")
  );
}

export function renderTitle(d: ReportData): string {
  const t = d.totals;
  const tokens = t.input_tokens + t.cache_read_tokens + t.cache_write_tokens + t.output_tokens;
  const parts = [
    `${shortCost(t.cost_nanos)}${t.unpriced_requests > 0 ? "+" : ""}`,
    `${compact(tokens)} tokens`,
    `${t.requests} request${t.requests === 1 ? "" : "s"}`,
  ];
  if (t.denials > 0) parts.push(`${t.denials} denied`);
  return parts.join(" · ");
}

export interface RenderOptions {
  readonly detailsUrl: string | null;
  /** The PR's page in the gateway's UI (every run of the PR), linked when the session ran for a PR. */
  readonly prPageUrl?: string | null;
  /** Defaults to SUMMARY_LIMIT; tests lower it. */
  readonly limit?: number;
}

export function renderMarkdown(d: ReportData, opts: RenderOptions): string {
  const limit = opts.limit ?? SUMMARY_LIMIT;
  const head = [header(d, opts.detailsUrl, opts.prPageUrl ?? null), models(d), requests(d), toolCalls(d)];
  const tail = [mcp(d), findings(d), budgets(d), budgetAlerts(d), pr(d)];
  const fixed = [...head, ...tail].filter(Boolean).join("\n\n");
  // Commands are the open-ended part: they get whatever room the other sections leave.
  const room = limit - fixed.length - 4;
  const body = [...head, commands(d, room), ...tail].filter(Boolean).join("\n\n") + "\n";
  return body.length <= limit ? body : cut(body, limit);
}

function header(d: ReportData, detailsUrl: string | null, prPageUrl: string | null): string {
  const s = d.session;
  const where = [`**${text(s.repository)}**`];
  if (s.pr_number !== null) where.push(`PR #${s.pr_number}`);
  where.push(`run ${text(s.run_id)} (attempt ${text(s.run_attempt)})`, `workflow ${text(s.workflow)}`);
  if (s.job) where.push(`job ${text(s.job)}`);
  where.push(`event ${text(s.event)}`);
  if (s.head_sha) where.push(`commit ${s.head_sha.slice(0, 7)}`);
  const lines = [where.join(" · ")];
  const state =
    s.finished_at === null
      ? `Running since ${s.started_at}.`
      : `${s.finish_reason === "idle" ? "Closed by the gateway after the job went idle" : "Finished"} at ${s.finished_at}.`;
  lines.push(detailsUrl ? `${state} [Details](${detailsUrl})` : state);
  if (prPageUrl && s.pr_number !== null) lines.push(`[Every run of PR #${s.pr_number}](${prPageUrl})`);
  return lines.join("\n");
}

function models(d: ReportData): string {
  const t = d.totals;
  const rows = d.by_model.map((m) => [
    text(`${m.provider}/${m.model}`),
    num(m.requests),
    num(m.input_tokens),
    num(m.cache_read_tokens),
    num(m.cache_write_tokens),
    num(m.output_tokens),
    m.cost_nanos === null ? "unknown" : money(m.cost_nanos),
  ]);
  rows.push(["**Total**", num(t.requests), num(t.input_tokens), num(t.cache_read_tokens), num(t.cache_write_tokens), num(t.output_tokens), `**${money(t.cost_nanos)}**`]);
  const note = t.unpriced_requests > 0 ? `\n\n${t.unpriced_requests} request(s) had no known price and are not in the cost.` : "";
  return `### Cost and tokens by model\n\n${table(["Model", "Requests", "Input", "Cache read", "Cache write", "Output", "Cost"], rows, "lrrrrrr")}${note}`;
}

function requests(d: ReportData): string {
  const t = d.totals;
  const line = `${plural(t.requests, "request")}, ${plural(t.errors, "error")}, ${num(t.denials)} denied.`;
  if (d.problems.length === 0) return `### Requests\n\n${line}`;
  const rows = d.problems.map((p) => [p.kind, text(p.reason), num(p.count)]);
  return `### Requests\n\n${line}\n\n${limited(["Kind", "Reason", "Count"], rows, "llr")}`;
}

function toolCalls(d: ReportData): string {
  if (d.tool_calls_by_kind.length === 0) return "### Tool calls\n\nNone.";
  return `### Tool calls\n\n${limited(["Kind", "Calls"], d.tool_calls_by_kind.map((k) => [text(k.kind), num(k.count)]), "lr")}`;
}

function commands(d: ReportData, room: number): string {
  if (d.commands.length === 0 && d.commands_omitted === 0) return "";
  const title = "### Shell commands (newest first)";
  const lines: string[] = [];
  let used = title.length + 2;
  let shown = 0;
  for (const c of d.commands) {
    const line = `- ${code(clip(c.command, COMMAND_MAX))}${c.blocked ? " **blocked**" : ""}`;
    // Keep room for the "more not shown" line.
    if (used + line.length + 1 + 80 > room) break;
    lines.push(line);
    used += line.length + 1;
    shown++;
  }
  const more = d.commands.length - shown + d.commands_omitted;
  if (more > 0) lines.push(`- … and ${num(more)} more not shown`);
  return `${title}\n\n${lines.join("\n")}`;
}

function mcp(d: ReportData): string {
  if (d.mcp.length === 0) return "";
  return `### MCP servers and tools\n\n${limited(["Server", "Tool", "Calls"], d.mcp.map((m) => [text(m.server), code(m.tool, true), num(m.count)]), "llr")}`;
}

function findings(d: ReportData): string {
  if (d.findings.length === 0) return "";
  const sorted = [...d.findings].sort((a, b) => SEVERITY_ORDER.indexOf(a.severity) - SEVERITY_ORDER.indexOf(b.severity));
  const counts = SEVERITY_ORDER.map((s) => [s, sorted.filter((f) => f.severity === s).length] as const)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} ${s}`)
    .join(", ");
  const rows = sorted.map((f) => [f.severity, text(f.rule), text(f.action), code(clip(f.command, COMMAND_MAX), true)]);
  return `### Guardrail findings\n\n${counts}.\n\n${limited(["Severity", "Rule", "Action", "Command"], rows, "llll")}`;
}

function budgets(d: ReportData): string {
  if (d.budgets.length === 0) return "";
  const rows = d.budgets.map((b) => [text(b.bucket), money(b.spent_nanos), b.remaining_nanos === null ? "unknown" : money(b.remaining_nanos)]);
  return `### Budgets\n\n${limited(["Bucket", "Spent here", "Remaining"], rows, "lrr")}`;
}

function budgetAlerts(d: ReportData): string {
  if (d.budget_alerts.length === 0) return "";
  const rows = d.budget_alerts.map((a) => [text(a.bucket), `${a.threshold_percent} %`, `${money(a.spent_nanos)} of ${money(a.capacity_nanos)}`, text(a.at)]);
  return `### Budget alerts\n\n${limited(["Bucket", "Crossed", "Spent", "At"], rows, "lrrl")}`;
}

function pr(d: ReportData): string {
  if (d.pr === null || d.session.pr_number === null || d.pr.sessions < 2) return "";
  const p = d.pr;
  return `### PR #${d.session.pr_number} so far\n\n${num(p.sessions)} sessions, ${plural(p.requests, "request")}, ${num(p.input_tokens + p.output_tokens)} tokens, ${money(p.cost_nanos)}.`;
}

// --- Markdown helpers ---

function limited(head: string[], rows: string[][], align: string): string {
  if (rows.length <= ROW_LIMIT) return table(head, rows, align);
  return `${table(head, rows.slice(0, ROW_LIMIT), align)}\n\n… and ${num(rows.length - ROW_LIMIT)} more rows.`;
}

function table(head: string[], rows: string[][], align: string): string {
  const sep = [...align].map((a) => (a === "r" ? "--:" : "---"));
  return [head, sep, ...rows].map((r) => `| ${r.join(" | ")} |`).join("\n");
}

/** Escapes text so Markdown, HTML and math (`$`) in it render literally; newlines become spaces. */
export function text(s: string): string {
  return s.replace(/[\r\n]+/g, " ").replace(/[\\`*_{}[\]()<>#+!|~&$]/g, (ch) => `\\${ch}`);
}

/** Dollars with the sign escaped: GitHub renders `$…$` as math. */
const money = (nanos: number): string => `\\${formatDollars(nanos)}`;

const plural = (n: number, word: string): string => `${num(n)} ${word}${n === 1 ? "" : "s"}`;

/**
 * A code span that shows `s` verbatim: fenced with more backticks than any run inside, padded when it starts or
 * ends with a backtick, newlines shown as ⏎. In a table cell `|` must still be escaped (GFM splits cells first).
 */
export function code(s: string, inTable = false): string {
  let body = s.replace(/\r?\n/g, " ⏎ ");
  if (inTable) body = body.replaceAll("|", "\\|");
  const longest = Math.max(0, ...[...body.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = "`".repeat(longest + 1);
  const pad = body.startsWith("`") || body.endsWith("`") || body.trim() === "" ? " " : "";
  return `${fence}${pad}${body}${pad}${fence}`;
}

function clip(s: string, max: number): string {
  const chars = [...s];
  return chars.length <= max ? s : `${chars.slice(0, max).join("")}… (${chars.length - max} more chars)`;
}

function cut(body: string, limit: number): string {
  const note = "\n\n… summary cut at GitHub's size limit.\n";
  const at = body.lastIndexOf("\n", limit - note.length);
  return body.slice(0, at > 0 ? at : limit - note.length) + note;
}

const num = (n: number): string => n.toLocaleString("en-US");

function compact(n: number): string {
  if (n < 1000) return String(n);
  if (n < 1_000_000) return `${(n / 1000).toFixed(1)}k`;
  return `${(n / 1_000_000).toFixed(2)}M`;
}

/** Cents from a dollar up, four decimals below. */
function shortCost(nanos: number): string {
  const digits = nanos >= 1_000_000_000 ? 2 : 4;
  return `$${(nanos / 1_000_000_000).toFixed(digits)}`;
}
