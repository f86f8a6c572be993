// /ui/policy (admins): the policy editor. The page is a frame the editor's script (client/policy-*.ts) fills from the
// config API: it edits the HuJSON file itself, so the file's comments and layout survive every save.
import { html } from "hono/html";
import { type Page, type Viewer, errorPage } from "./layout.js";

export function policyPage(viewer: Viewer): Page {
  if (!viewer.admin) {
    return errorPage(403, "Access denied", "access denied: the policy editor is for admins (role admin). Your own grants and budgets are at /ui/access.");
  }
  return {
    title: "Policy",
    body: html`<div data-policy-editor>
<p class="muted" data-loading>Loading the config…</p>
<noscript><p>The editor runs from this gateway's script. Without it, read and write the file with GET and PUT /api/config.</p></noscript>
</div>`,
  };
}
