// /ui/access: the viewer's own grants, the quota lines their requests are charged to and those buckets' levels,
// read-only. Everyone with a role sees only their own (admins edit everything at /ui/policy).
import { html } from "hono/html";
import { type Caller, quotaGrants } from "../access/caller.js";
import { formatDollars } from "../config/units.js";
import { chargesFrom } from "../quotas/charges.js";
import { BucketStoreUnavailable } from "../quotas/bucket-store.js";
import type { UiDeps } from "./deps.js";
import { type Html, type Page, pretty } from "./layout.js";

const list = (v: string | readonly string[] | undefined) => (v === undefined ? "" : typeof v === "string" ? v : v.join(", "));

function grantsTable(caller: Caller): Html {
  if (caller.access.values.length === 0) return html`<p class="muted">No grant applies to you.</p>`;
  return html`<table><caption>Grant values that apply to you</caption>
<tr><th scope="col">from</th><th scope="col">role</th><th scope="col">models</th><th scope="col">quotas</th><th scope="col">guardrails</th><th scope="col">hooks</th></tr>
${caller.access.values.map(({ origin, value }) => html`<tr><td>${origin}</td><td>${value.role ?? ""}</td><td><code>${list(value.models)}</code></td>
<td>${(value.quotas ?? []).map((q) => html`<code>${[q.bucket, ...(q.overdraft ?? [])].join(" → ")}</code> `)}</td>
<td>${value.guardrails ? html`<code>${pretty(value.guardrails)}</code>` : ""}</td><td>${(value.send_hooks ?? []).map((h) => h.name).join(", ")}</td></tr>`)}</table>`;
}

async function bucketsTable(deps: UiDeps, caller: Caller): Promise<Html> {
  const { lines, charges, undefinedRefs } = chargesFrom(quotaGrants(caller.access.values), caller.identity, deps.sessionFor(caller.identity), caller.config.quotas);
  const missing = undefinedRefs.length ? html`<p class="bad">Quotas your grants name that the config does not define (requests using them are refused): ${undefinedRefs.join(", ")}</p>` : html``;
  if (charges.length === 0) return html`${missing}<p class="muted">No budget applies to your requests.</p>`;
  let levels: { bucket: string; balance: number }[];
  try {
    levels = await Promise.all(charges.map(async (c) => ({ bucket: c.bucket, balance: (await deps.buckets.peek(c)).balance })));
  } catch (err) {
    if (!(err instanceof BucketStoreUnavailable)) throw err;
    return html`<p class="bad">The budget store cannot be reached: ${err.message}</p>`;
  }
  const balance = new Map(levels.map((l) => [l.bucket, l.balance]));
  // Overdraft chains are worth spelling out; single buckets are the table's rows.
  const chains = lines.filter((line) => line.length > 1);
  const chained = chains.length
    ? html`<p>A request charged to a chain borrows from the next bucket when one runs dry:</p><ul>${chains.map((line) => html`<li><code>${line.map((c) => c.bucket).join(" → ")}</code></li>`)}</ul>`
    : html``;
  return html`${missing}<p>Your requests are charged to these buckets: each request to those of the grant values that allow its model.</p>${chained}
<table><caption>Your buckets now</caption><tr><th scope="col">bucket</th><th scope="col">quota</th><th scope="col">balance</th><th scope="col">capacity</th><th scope="col">level</th><th scope="col">refill</th></tr>
${charges.map((c) => {
  const left = balance.get(c.bucket) ?? 0;
  return html`<tr data-bucket="${c.bucket}"><td><code>${c.bucket}</code></td><td>${c.quota}</td><td class="n ${left <= 0 ? "bad" : ""}">${formatDollars(left)}</td>
<td class="n">${formatDollars(c.def.capacity)}</td><td>${c.def.capacity > 0 ? html`<meter min="0" max="${c.def.capacity}" value="${Math.max(0, left)}" aria-label="${c.bucket} level"></meter>` : ""}</td><td>${c.def.rate.text}</td></tr>`;
})}</table>`;
}

export async function accessPage(deps: UiDeps, caller: Caller): Promise<Page> {
  return {
    title: `Your access · ${caller.identity.principal}`,
    body: html`<p>Role: <b>${caller.role ?? "none"}</b>${caller.role === "admin" ? html` · <a href="/ui/policy">edit the policy</a>` : ""}</p>
<h2>Grants</h2>${grantsTable(caller)}
<h2>Budgets</h2>${await bucketsTable(deps, caller)}`,
  };
}
