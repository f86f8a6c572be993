// "What would happen": for a principal (or a repository's CI runner) and a model, what the running config decides —
// GET /api/policy/explain, the logic of `keyless policy explain`.
import { api } from "./api.js";
import { el, uid } from "./dom.js";
import { type Json, asArray, asObject } from "./policy-draft.js";
import { type ExplainAnswer, ExplainAnswer as ExplainShape } from "../schemas/policy.js";

function input(label: string, name: string, options: readonly string[], placeholder: string): HTMLElement {
  const id = uid("x");
  const list = uid("xl");
  return el(
    "div",
    { class: "field" },
    el("label", { text: label, attrs: { for: id } }),
    el("input", { attrs: { id, name, list, placeholder, type: "text", autocomplete: "off", spellcheck: "false" } }),
    el("datalist", { attrs: { id: list } }, ...options.map((o) => el("option", { attrs: { value: o } }))),
  );
}

function describe(e: ExplainAnswer): HTMLElement {
  const row = (term: string, ...detail: (Node | string)[]) => [el("dt", { text: term }), el("dd", {}, ...detail)];
  const access = e.allowed ? `allowed by ${e.allowed_by.join("; ")}` : e.role === null ? "denied: no role" : `denied: no grant allows ${e.model_key}`;
  return el(
    "dl",
    { attrs: { "data-explanation": "" } },
    ...row("who", `${e.principal}${e.repository ? ` (the runner of ${e.repository.name}, mapped by ${e.repository.pattern})` : ""}`),
    ...row("model", `${e.model_key}${e.provider ? "" : " (no provider serves it)"}`),
    ...row("role", el("b", { text: e.role ?? "none", attrs: { "data-role": e.role ?? "" } })),
    ...row("access", el("span", { class: e.allowed ? "" : "bad", text: access, attrs: { "data-allowed": String(e.allowed) } })),
    ...row("grants matched", e.grants.length ? el("ul", {}, ...e.grants.map((g) => el("li", {}, el("code", { text: `${g.origin} ${g.src.join(" ")} → ${g.values.map((v) => JSON.stringify(v)).join(" ")}` })))) : "none"),
    ...row(
      "buckets charged",
      e.undefined_quotas.length
        ? el("span", { class: "bad", text: `refused: undefined quota ${e.undefined_quotas.join(", ")}` })
        : e.buckets.length
          ? el("ul", { attrs: { "data-buckets": "" } }, ...e.buckets.map((b) => el("li", {}, el("code", { text: b.bucket }), ` (quota ${b.quota}: ${b.capacity}, refills ${b.rate})`)))
          : e.allowed ? "none: spend is unlimited" : "none: refused before any reservation",
    ),
    ...(e.notes.length ? row("notes", el("ul", {}, ...e.notes.map((n) => el("li", { text: n })))) : []),
  );
}

/** Principals, repositories and provider names the config mentions, offered as suggestions. */
function suggestions(config: Json) {
  const principals = new Set(asArray(config.grants).flatMap((g) => asArray(asObject(g).src).filter((s): s is string => typeof s === "string" && s !== "*")));
  const repos = Object.keys(asObject(asObject(config.github).repos)).filter((r) => !r.endsWith("/*"));
  const models = Object.entries(asObject(config.providers)).flatMap(([name, p]) => asArray(asObject(p).models).filter((m): m is string => typeof m === "string").map((m) => `${name}/${m.replace(/\*+/g, "")}`));
  return { principals: [...principals], repos, models };
}

/** `config`: the file as loaded, for suggestions only (the answer is always the running config's). */
export function explainPanel(config: Json): HTMLElement {
  const out = el("div", { attrs: { "aria-live": "polite", "data-explain-result": "" } });
  const s = suggestions(config);
  const form = el(
    "form",
    { class: "explain" },
    el(
      "fieldset",
      {},
      el("legend", { text: "A request from" }),
      input("principal (login or tag:a,tag:b)", "principal", s.principals, "alice@example.com"),
      input("or repository (its CI runner)", "repository", s.repos, "acme/api"),
      input("model", "model", s.models, "claude-sonnet-4-6"),
      el("button", { text: "Explain", attrs: { type: "submit" } }),
    ),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const params = new URLSearchParams();
    for (const name of ["principal", "repository", "model"]) {
      const value = form.querySelector<HTMLInputElement>(`[name="${name}"]`)?.value.trim() ?? "";
      if (value) params.set(name, value);
    }
    void api(ExplainShape, "GET", `/api/policy/explain?${params}`).then((answer) =>
      out.replaceChildren(answer.ok ? describe(answer.value) : el("p", { class: "bad", text: answer.error.message })),
    );
  });
  return el(
    "section",
    { class: "policy-explain", attrs: { "aria-labelledby": "policy-explain-h" } },
    el("h2", { text: "What would happen", attrs: { id: "policy-explain-h" } }),
    el("p", { class: "muted", text: "Under the saved, running config (save a draft to try it): the role, the grants that match and the buckets a request would be charged to." }),
    form,
    out,
  );
}
