// The web UI's frame and formatting. Every string from traffic (model output, commands, headers, principals) is
// attacker-controlled: pages are built only with hono/html's `html` template, which escapes every interpolation, and
// are served with the session page's CSP (no scripts at all, inline style only).
import { html, raw } from "hono/html";
import { SESSION_PAGE_HEADERS } from "../api/session-page.js";
import { z } from "zod";
import { formatDollars } from "../config/units.js";
import type { RowCursor } from "../store/requests.js";

export type Html = ReturnType<typeof html>;

/** Who is looking: admins see everything, users only rows whose principal is theirs. */
export interface Viewer {
  readonly admin: boolean;
  readonly principal: string;
}

export interface Page {
  readonly status?: 200 | 400 | 403 | 404;
  readonly title: string;
  readonly body: Html;
}

export const UI_HEADERS: Readonly<Record<string, string>> = { ...SESSION_PAGE_HEADERS, "x-frame-options": "DENY" };

/** Query-string filters of a list page; undefined and "" are left out of links. */
export type Params = Readonly<Record<string, string | undefined>>;

export function href(path: string, params: Params = {}): string {
  const query = Object.entries(params)
    .filter((e): e is [string, string] => e[1] !== undefined && e[1] !== "")
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join("&");
  return query ? `${path}?${query}` : path;
}

/** The same filters with `key` set (or cleared); a new filter starts again from the newest rows. */
export function withParam(params: Params, key: string, value: string | undefined): Params {
  return { ...params, before: undefined, [key]: value };
}

/** Empty query values mean "no filter" (links drop them; a hand-edited URL may not). */
export const blankless = (q: unknown) => Object.fromEntries(Object.entries(q as Record<string, string>).filter(([, v]) => v !== ""));

/** `<ts>:<id>` of the last row shown; the next page starts below it. */
export const Cursor = z.string().transform((s, ctx): RowCursor => {
  const m = /^(\d+):(.+)$/.exec(s);
  if (!m) {
    ctx.addIssue({ code: "custom", message: "expected <ts>:<id> from an Older link" });
    return z.NEVER;
  }
  return { ts: Number(m[1]), id: m[2]! };
});

/** Users are pinned to their own principal; asking for someone else's is refused. */
export function ownPrincipal(viewer: Viewer, asked: string | undefined): string | undefined | Page {
  if (viewer.admin) return asked;
  if (asked !== undefined && asked !== viewer.principal) {
    return errorPage(403, "Access denied", `access denied: role user may only read its own rows (${viewer.principal})`);
  }
  return viewer.principal;
}

export const time = (ms: number) => `${new Date(ms).toISOString().slice(0, 19).replace("T", " ")}Z`;
export const num = (n: number | null) => (n === null ? "" : n.toLocaleString("en-US"));
export const dollars = (nanos: number | null) => (nanos === null ? "unknown" : formatDollars(nanos));

/** A value as readable text: JSON pretty-printed, text as it is. */
export function pretty(value: unknown): string {
  return typeof value === "string" ? value : (JSON.stringify(value, null, 2) ?? "");
}

export function clip(text: string, max = 200): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** "label: all · a · b" links that set one filter; the current choice is bold. */
export function choices(path: string, params: Params, key: string, label: string, options: readonly string[]): Html {
  const current = params[key];
  const link = (value: string | undefined, text: string) =>
    value === current ? html`<b>${text}</b>` : html`<a href="${href(path, withParam(params, key, value))}">${text}</a>`;
  return html`<span class="choice">${label}: ${link(undefined, "all")}${options.map((o) => html` · ${link(o, o)}`)}</span>`;
}

/** The free-text filters in effect, each with a link that removes it. Set them by clicking values in the table. */
export function activeFilters(path: string, params: Params, keys: readonly string[]): Html {
  const set = keys.filter((k) => params[k]);
  if (set.length === 0) return html``;
  return html`<p class="filters">Filtered by ${set.map(
    (k) => html`<span class="chip">${k} = <code>${params[k]}</code> <a href="${href(path, withParam(params, k, undefined))}" title="remove">×</a></span> `,
  )}</p>`;
}

/** A link that narrows the current list to `value` in column `key`. */
export function filterLink(path: string, params: Params, key: string, value: string | null, text?: string): Html {
  if (value === null || value === "") return html``;
  return html`<a href="${href(path, withParam(params, key, value))}">${text ?? value}</a>`;
}

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:0;color:#1f2328;background:#fff}
header{display:flex;gap:1.2rem;align-items:baseline;padding:.6rem 1.2rem;border-bottom:1px solid #d0d7de;background:#f6f8fa}
header .me{margin-left:auto;color:#59636e}header a.on{font-weight:600;text-decoration:none;color:#1f2328}
main{padding:0 1.2rem 2rem;max-width:1400px}
a{color:#0969da}h1{font-size:1.35rem;margin:1rem 0 .5rem}h2{font-size:1.1rem;margin:1.4rem 0 .4rem}
table{border-collapse:collapse;margin:.4rem 0 1rem}th,td{border:1px solid #d0d7de;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
code,pre{font:12.5px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace;background:#f6f8fa;border-radius:4px}
code{padding:.05rem .25rem;white-space:pre-wrap;word-break:break-all}
pre{padding:.6rem;overflow:auto;max-height:40rem;white-space:pre-wrap;word-break:break-all;border:1px solid #d0d7de}
.cards{display:flex;flex-wrap:wrap;gap:.8rem}.card{border:1px solid #d0d7de;border-radius:6px;padding:.5rem .9rem;min-width:9rem}
.card b{display:block;font-size:1.25rem}.muted{color:#59636e}.bad{color:#cf222e}.warn{color:#9a6700}
.chip{background:#ddf4ff;border-radius:1rem;padding:.1rem .5rem}.choice{margin-right:1.5rem}.filters,.bar{margin:.4rem 0}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.15rem 1rem}dt{color:#59636e}dd{margin:0}
`;

export function layout(page: Page, viewer: Viewer | null, current: string): Html {
  const nav = (path: string, text: string) => html`<a href="${path}" class="${path === current ? "on" : ""}">${text}</a>`;
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${page.title} · keyless</title>
<style>${raw(STYLE)}</style></head><body>
<header><b>keyless</b>${viewer
    ? html`${nav("/ui/", "Dashboard")}${nav("/ui/requests", "Requests")}${nav("/ui/tool-calls", "Tool calls")}${nav("/ui/sessions", "Sessions")}
<span class="me">${viewer.principal} · ${viewer.admin ? "admin" : "user"}</span>`
    : ""}</header>
<main>
<h1>${page.title}</h1>
${page.body}
</main>
</body></html>`;
}

export function errorPage(status: 400 | 403 | 404, title: string, message: string): Page {
  return { status, title, body: html`<p>${message}</p>` };
}
