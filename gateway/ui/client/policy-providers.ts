// Providers: upstream URL, models and the key — only ever as an ${ENV} reference. The gateway refuses a file with a
// literal key; the form refuses one before it reaches the text, so a key typed by mistake never leaves the browser.
import { button, el, field, fieldError, splitList } from "./dom.js";
import { type Draft, asList, asObject, asString } from "./policy-draft.js";
import { type SectionContext, addForm, inputValue, namedInput, namedSelect, section } from "./policy-section.js";

const ENV_REFERENCE = /^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/;
const KEYED_TYPES = ["anthropic", "openai", "gemini"];
const NAME = /^[a-z0-9][a-z0-9_-]*$/;

export const keyProblem = (value: string): string | null =>
  value === "" || ENV_REFERENCE.test(value) ? null : "enter an ${ENV} reference such as ${ANTHROPIC_API_KEY}, never the key itself";

function keyField(draft: Draft, name: string, value: string): HTMLElement {
  return field(`API key of ${name}`, value, (v, input) => {
    const text = v.trim();
    const problem = keyProblem(text);
    fieldError(input, problem);
    if (problem) {
      // The literal is not kept, not even in the field.
      input.value = "";
      return;
    }
    draft.set(["providers", name, "apikey"], text);
  }, { placeholder: "${ENV_NAME}" });
}

function providerBox(draft: Draft, name: string, raw: unknown): HTMLElement {
  const p = asObject(raw);
  const type = asString(p.type) || "(from its compatibility flags)";
  return el(
    "fieldset",
    { class: "provider", attrs: { "data-provider": name } },
    el("legend", { text: `${name} · ${type}` }),
    field(`base URL of ${name}`, asString(p.baseurl), (v) => draft.set(["providers", name, "baseurl"], v.trim() || undefined)),
    field(`models of ${name}`, asList(p.models), (v) => draft.set(["providers", name, "models"], splitList(v))),
    KEYED_TYPES.includes(asString(p.type)) || p.type === undefined ? keyField(draft, name, asString(p.apikey)) : el("p", { class: "muted", text: "Cloud credentials: edit them in the raw file." }),
    button(`Remove provider ${name}`, () => draft.set(["providers", name], undefined, "structure"), { class: "secondary" }),
  );
}

export function providersSection({ draft, config }: SectionContext): HTMLElement {
  const providers = asObject(config.providers);
  const add = addForm(
    "Add a provider",
    [
      namedInput("name", "name", "anthropic"),
      namedSelect("type", "type", KEYED_TYPES),
      namedInput("base URL", "baseurl", "https://api.anthropic.com"),
      namedInput("models", "models", "claude-*"),
      namedInput("API key (${ENV} reference)", "apikey", "${ANTHROPIC_API_KEY}"),
    ],
    "Add provider",
    (form) => {
      const name = inputValue(form, "name");
      if (!NAME.test(name)) return "Provider names are lower-case letters, digits, - and _.";
      if (providers[name] !== undefined) return `A provider named ${name} exists already.`;
      const apikey = inputValue(form, "apikey");
      const problem = keyProblem(apikey);
      if (problem) {
        form.querySelector<HTMLInputElement>('[name="apikey"]')!.value = "";
        return `API key: ${problem}.`;
      }
      const models = splitList(inputValue(form, "models"));
      draft.set(["providers", name], { type: inputValue(form, "type"), baseurl: inputValue(form, "baseurl"), apikey, models: models.length ? models : ["*"] }, "structure");
      return null;
    },
  );
  return section(
    "providers",
    "Providers",
    "Upstream APIs. Keys are written only as ${ENV} references to the gateway's environment: their values are never shown or entered here.",
    ...Object.entries(providers).map(([name, raw]) => providerBox(draft, name, raw)),
    add,
  );
}
