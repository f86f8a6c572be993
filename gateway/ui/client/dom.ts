// Building the DOM from script: text only through textContent and attributes through setAttribute, never innerHTML,
// so no value from the config or the API is ever parsed as markup.
type Child = Node | string | null | false | undefined;

export interface Props {
  readonly class?: string;
  readonly text?: string;
  readonly attrs?: Readonly<Record<string, string | number | boolean | undefined>>;
  readonly on?: Readonly<Partial<Record<keyof HTMLElementEventMap, (event: Event) => void>>>;
}

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: readonly Child[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (props.class) node.className = props.class;
  if (props.text !== undefined) node.textContent = props.text;
  for (const [name, value] of Object.entries(props.attrs ?? {})) {
    if (value === undefined || value === false) continue;
    node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const [event, handler] of Object.entries(props.on ?? {})) node.addEventListener(event, handler);
  for (const child of children) if (child !== null && child !== false && child !== undefined) node.append(child);
  return node;
}

let ids = 0;
/** A page-unique id, to tie a label to its control. */
export const uid = (prefix: string): string => `${prefix}-${++ids}`;

/** A labelled text input; `onCommit` runs when the value is committed (Enter or leaving the field). */
export function field(
  label: string,
  value: string,
  onCommit: (value: string, input: HTMLInputElement) => void,
  attrs: Props["attrs"] = {},
  /** In a table whose header names the column: the label is for screen readers only. */
  hideLabel = false,
): HTMLElement {
  const id = uid("f");
  const input = el("input", { attrs: { id, type: "text", spellcheck: "false", autocomplete: "off", ...attrs } });
  input.value = value;
  input.addEventListener("change", () => onCommit(input.value, input));
  return el("div", { class: "field" }, el("label", { text: label, class: hideLabel ? "visually-hidden" : undefined, attrs: { for: id } }), input);
}

/** A labelled select. */
export function select(label: string, value: string, options: readonly string[], onCommit: (value: string) => void): HTMLElement {
  const id = uid("s");
  const node = el("select", { attrs: { id } }, ...options.map((o) => el("option", { text: o === "" ? "(none)" : o, attrs: { value: o } })));
  node.value = value;
  node.addEventListener("change", () => onCommit(node.value));
  return el("div", { class: "field" }, el("label", { text: label, attrs: { for: id } }), node);
}

export function button(text: string, onClick: () => void, attrs: Props["attrs"] = {}): HTMLButtonElement {
  return el("button", { text, attrs: { type: "button", ...attrs }, on: { click: onClick } });
}

/** "a, b ,c" → ["a", "b", "c"]. */
export const splitList = (text: string): string[] => text.split(",").map((s) => s.trim()).filter((s) => s !== "");

/** Marks a field invalid with a message beside it (or clears it). */
export function fieldError(input: HTMLInputElement, message: string | null): void {
  const box = input.closest(".field");
  box?.querySelector(".field-error")?.remove();
  if (message === null) {
    input.removeAttribute("aria-invalid");
    input.removeAttribute("aria-describedby");
    return;
  }
  const id = uid("e");
  box?.append(el("span", { class: "field-error bad", text: message, attrs: { id, role: "alert" } }));
  input.setAttribute("aria-invalid", "true");
  input.setAttribute("aria-describedby", id);
}
