// The web UI's frame and formatting. Every string from traffic (model output, commands, headers, principals) is
// attacker-controlled: pages are built only with hono/html's `html` template, which escapes every interpolation, and
// are served with the session page's CSP (no scripts at all, inline style only).
import { html } from "hono/html";
import { SCRIPT_URL, STYLE_URL } from "./assets.js";
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

/** Scripts and styles only from the gateway's own origin (assets.ts), never inline; forms and fetches only to it. */
export const UI_HEADERS: Readonly<Record<string, string>> = {
  ...SESSION_PAGE_HEADERS,
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "x-frame-options": "DENY",
};

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

/** The page frame; `csrf` is the token the UI's script sends back with every state-changing call (http/csrf.ts). */
export function layout(page: Page, viewer: Viewer | null, current: string, csrf: string): Html {
  const nav = (path: string, text: string) => html`<a href="${path}" class="${path === current ? "on" : ""}">${text}</a>`;
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${page.title} · keyless</title>
<meta name="keyless-csrf" content="${csrf}">
<link rel="stylesheet" href="${STYLE_URL}"><script src="${SCRIPT_URL}" defer></script></head><body>
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
