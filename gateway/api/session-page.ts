// The check run's details page: a session's summary as HTML for reviewers on the tailnet. The Markdown holds strings
// a model chose (commands, tool names), so raw HTML in it is escaped and the page forbids scripts outright.
import { Marked } from "marked";

const marked = new Marked({
  gfm: true,
  renderer: {
    // Markdown may not smuggle HTML: any raw HTML is shown as text.
    html: ({ text }) => escapeHtml(text),
  },
});

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

export const SESSION_PAGE_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};

export function renderSessionPage(title: string, markdown: string): string {
  const body = marked.parse(markdown, { async: false });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body{font:15px/1.5 system-ui,-apple-system,Segoe UI,sans-serif;max-width:1040px;margin:2rem auto;padding:0 1rem;color:#1f2328}
table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid #d0d7de;padding:.3rem .6rem;text-align:left}
code{background:#f6f8fa;padding:.1rem .3rem;border-radius:4px;font-size:90%}h1,h2,h3{line-height:1.25}
</style></head><body>
${body}
</body></html>`;
}
