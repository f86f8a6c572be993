// Grants: who (src: logins, groups, tags, "*") gets which role, models, quota lines, guardrail actions and hooks.
// Each grant's values under the gateway's capabilities are edited field by field; other fields stay as written.
import type { JSONPath } from "jsonc-parser";
import { button, el, field, fieldError, select, splitList } from "./dom.js";
import { type Draft, type Json, asArray, asList, asObject, asString } from "./policy-draft.js";
import { type SectionContext, addForm, inputValue, namedInput, namedSelect, section } from "./policy-section.js";

const ROLES = ["", "user", "admin"];
const ACTIONS = ["log", "flag", "redact", "block"];
export const DEFAULT_CAPABILITY = "keyless.dev/cap/gateway";
const APERTURE_CAPABILITY = "tailscale.com/cap/aperture";

function at(root: unknown, path: JSONPath): unknown {
  return path.reduce<unknown>((node, key) => (Array.isArray(node) ? node[Number(key)] : asObject(node)[String(key)]), root);
}

/** "shell.rm-rf=block, default=flag" → {"shell.rm-rf": "block", default: "flag"}, or why not. */
export function parseGuardrails(text: string): Record<string, string> | string {
  const out: Record<string, string> = {};
  for (const item of splitList(text)) {
    const [rule, action] = item.split("=").map((s) => s.trim());
    if (!rule || !action || !ACTIONS.includes(action)) return `write rule=action pairs; actions are ${ACTIONS.join(", ")}`;
    out[rule] = action;
  }
  return out;
}

const formatGuardrails = (v: unknown) => Object.entries(asObject(v)).map(([rule, action]) => `${rule}=${asString(action)}`).join(", ");
const oneOrMany = (list: string[]) => (list.length === 0 ? undefined : list.length === 1 ? list[0] : list);
const orUndefined = <T>(list: T[]) => (list.length === 0 ? undefined : list);

/** Quota refs by bucket name, keeping an existing ref's overdraft chain. */
const quotaRefs = (names: string[], existing: unknown) =>
  orUndefined(names.map((bucket) => asArray(existing).find((r) => asObject(r).bucket === bucket) ?? { bucket }));
/** Hook entries by name, keeping an existing entry's events and payload selection. */
const hookRefs = (names: string[], existing: unknown) =>
  orUndefined(names.map((name) => asArray(existing).find((r) => asObject(r).name === name) ?? { name }));

/** The fields of one grant value at `path`; each commit re-reads the value so edits compose. */
function valueFields(draft: Draft, path: JSONPath, value: Json): HTMLElement {
  const current = () => asObject(at(draft.value(), path));
  const guardrails = field("guardrail actions (rule=action)", formatGuardrails(value.guardrails), (text, input) => {
    const parsed = parseGuardrails(text);
    fieldError(input, typeof parsed === "string" ? parsed : null);
    if (typeof parsed !== "string") draft.set([...path, "guardrails"], Object.keys(parsed).length ? parsed : undefined);
  });
  return el(
    "div",
    { class: "grant-value" },
    select("role", asString(value.role), ROLES, (v) => draft.set([...path, "role"], v === "" ? undefined : v)),
    field("models", asList(value.models), (v) => draft.set([...path, "models"], oneOrMany(splitList(v)))),
    field("quotas (bucket names)", asArray(value.quotas).map((q) => asString(asObject(q).bucket)).join(", "), (v) =>
      draft.set([...path, "quotas"], quotaRefs(splitList(v), current().quotas)),
    ),
    guardrails,
    field("hooks", asArray(value.send_hooks).map((h) => asString(asObject(h).name)).join(", "), (v) =>
      draft.set([...path, "send_hooks"], hookRefs(splitList(v), current().send_hooks)),
    ),
  );
}

function grantBox(draft: Draft, grant: Json, i: number, capabilities: readonly string[]): HTMLElement {
  const src = asList(grant.src);
  const app = asObject(grant.app);
  const values = capabilities.flatMap((cap) => asArray(app[cap]).map((v, j) => ({ path: ["grants", i, "app", cap, j] as JSONPath, value: asObject(v) })));
  return el(
    "fieldset",
    { class: "grant", attrs: { "data-grant": i } },
    el("legend", { text: `Grant ${i + 1}: ${src || "(no src)"}` }),
    field("who (src, comma-separated)", src, (v, input) => {
      const list = splitList(v);
      fieldError(input, list.length === 0 ? "name at least one login, group, tag or *" : null);
      if (list.length > 0) draft.set(["grants", i, "src"], list);
    }),
    ...values.map(({ path, value }) => valueFields(draft, path, value)),
    values.length === 0 ? el("p", { class: "muted", text: "No values under the gateway's capability (edit the raw file)." }) : null,
    button(`Remove grant ${i + 1}`, () => draft.set(["grants", i], undefined, "structure"), { class: "secondary" }),
  );
}

function addGrant(draft: Draft, capability: string): HTMLFormElement {
  return addForm(
    "Add a grant",
    [
      namedInput("who (src, comma-separated)", "src", "alice@example.com, tag:ci"),
      namedSelect("role", "role", ROLES, "user"),
      namedInput("models", "models", "anthropic/**"),
      namedInput("quotas (bucket names)", "quotas", "daily:<user>"),
      namedInput("guardrail actions (rule=action)", "guardrails", "default=flag"),
      namedInput("hooks", "hooks", ""),
    ],
    "Add grant",
    (form) => {
      const src = splitList(inputValue(form, "src"));
      if (src.length === 0) return "Name who the grant is for: a login, group:…, tag:… or *.";
      const guardrails = parseGuardrails(inputValue(form, "guardrails"));
      if (typeof guardrails === "string") return `Guardrail actions: ${guardrails}.`;
      const value = {
        role: inputValue(form, "role") || undefined,
        models: oneOrMany(splitList(inputValue(form, "models"))),
        quotas: quotaRefs(splitList(inputValue(form, "quotas")), []),
        guardrails: Object.keys(guardrails).length ? guardrails : undefined,
        send_hooks: hookRefs(splitList(inputValue(form, "hooks")), []),
      };
      draft.set(["grants", -1], { src, app: { [capability]: [value] } }, "structure");
      return null;
    },
  );
}

export function grantsSection({ draft, config }: SectionContext): HTMLElement {
  const capability = asString(config.capability) || DEFAULT_CAPABILITY;
  const aperture = config.aperture_capability === undefined ? APERTURE_CAPABILITY : asString(config.aperture_capability);
  const capabilities = [...new Set([capability, aperture].filter((c) => c !== ""))];
  const grants = asArray(config.grants).map((g, i) => grantBox(draft, asObject(g), i, capabilities));
  return section(
    "grants",
    "Grants",
    "Who may use the gateway: role, models (provider/model globs), the quota buckets charged, guardrail actions and hooks. Lists are comma-separated; an empty field removes it.",
    ...(grants.length ? grants : [el("p", { class: "muted", text: "No config grants: only the tailnet policy grants access." })]),
    addGrant(draft, capability),
  );
}
