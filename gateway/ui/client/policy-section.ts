// A section of the editor: a heading, the validation problems under its config key, its forms.
import { el, field, select } from "./dom.js";
import type { Draft, Json } from "./policy-draft.js";

export interface SectionContext {
  readonly draft: Draft;
  /** The draft parsed now. */
  readonly config: Json;
}

/** A section for the config key `key`: validation problems whose path starts with it ("grants.0.app…") show under it. */
export function section(key: string, title: string, intro: string, ...body: (Node | string)[]): HTMLElement {
  const id = `policy-${key}`;
  return el(
    "section",
    { class: "policy-section", attrs: { "aria-labelledby": `${id}-h`, "data-section": key } },
    el("h2", { text: title, attrs: { id: `${id}-h` } }),
    el("p", { class: "muted", text: intro }),
    el("ul", { class: "problems", attrs: { "data-problems-for": key, "aria-live": "polite" } }),
    ...body,
  );
}

/** A small form that adds an entry: labelled inputs and a submit button; `onAdd` returns an error message or null. */
export function addForm(legend: string, fields: readonly HTMLElement[], submit: string, onAdd: (form: HTMLFormElement) => string | null): HTMLFormElement {
  const error = el("p", { class: "bad", attrs: { role: "alert" } });
  const form = el(
    "form",
    { class: "add-form" },
    el("fieldset", {}, el("legend", { text: legend }), ...fields, el("button", { text: submit, attrs: { type: "submit" } }), error),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    error.textContent = onAdd(form) ?? "";
  });
  return form;
}

/** The trimmed value of the form's control named `name`. */
export function inputValue(form: HTMLFormElement, name: string): string {
  const input = form.querySelector<HTMLInputElement | HTMLSelectElement>(`[name="${name}"]`);
  return input?.value.trim() ?? "";
}

/** An input of an add form, read back by name on submit. */
export function namedInput(label: string, name: string, placeholder = ""): HTMLElement {
  return field(label, "", () => undefined, { name, placeholder });
}

export function namedSelect(label: string, name: string, options: readonly string[], value = options[0] ?? ""): HTMLElement {
  const node = select(label, value, options, () => undefined);
  node.querySelector("select")?.setAttribute("name", name);
  return node;
}
