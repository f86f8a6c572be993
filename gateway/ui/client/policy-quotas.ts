// Quotas: dollar buckets by name template — capacity and refill rate; added, edited in place, removed.
import { button, el, field } from "./dom.js";
import { asObject, asString } from "./policy-draft.js";
import { type SectionContext, addForm, inputValue, namedInput, section } from "./policy-section.js";

export function quotasSection({ draft, config }: SectionContext): HTMLElement {
  const quotas = asObject(config.quotas);
  const rows = Object.entries(quotas).map(([name, raw]) => {
    const def = asObject(raw);
    return el(
      "tr",
      { attrs: { "data-quota": name } },
      el("th", { attrs: { scope: "row" } }, el("code", { text: name })),
      el("td", {}, field(`capacity of ${name}`, asString(def.capacity), (v) => draft.set(["quotas", name, "capacity"], v.trim()), {}, true)),
      el("td", {}, field(`refill rate of ${name}`, asString(def.rate), (v) => draft.set(["quotas", name, "rate"], v.trim()), {}, true)),
      el("td", {}, button("Remove", () => draft.set(["quotas", name], undefined, "structure"), { class: "secondary", "aria-label": `Remove ${name}` })),
    );
  });
  const table = rows.length
    ? el(
        "table",
        { class: "edit" },
        el("caption", { text: "Quotas" }),
        el("tr", {}, ...["bucket name", "capacity", "refill", "remove"].map((t) => el("th", { text: t, attrs: { scope: "col" } }))),
        ...rows,
      )
    : el("p", { class: "muted", text: "No quotas: spend is unlimited." });
  const add = addForm(
    "Add a quota",
    [
      namedInput("bucket name", "name", "daily:<user>"),
      namedInput("capacity", "capacity", "$10.00"),
      namedInput("refill rate", "rate", "$10.00/day"),
    ],
    "Add quota",
    (form) => {
      const name = inputValue(form, "name");
      if (name === "") return "Name the bucket (templates: <user>, <node>, <repo>, <pr>, <workflow>, <run>).";
      if (quotas[name] !== undefined) return `A quota named ${name} exists already: edit it above.`;
      draft.set(["quotas", name], { capacity: inputValue(form, "capacity"), rate: inputValue(form, "rate") }, "structure");
      return null;
    },
  );
  return section("quotas", "Quotas", "Dollar token buckets. A grant charges a request to the buckets it names; names may use <user>, <repo>, <pr> templates.", table, add);
}
