// The policy editor (/ui/policy, admins): structured sections over the HuJSON file, the raw text for everything else,
// live validation, review-and-save with conflict handling, "what would happen", and the audit history.
import { api } from "./api.js";
import { el, uid } from "./dom.js";
import { type ChangeKind, Draft } from "./policy-draft.js";
import { explainPanel } from "./policy-explain.js";
import { grantsSection } from "./policy-grants.js";
import { historyPanel } from "./policy-history.js";
import { providersSection } from "./policy-providers.js";
import { quotasSection } from "./policy-quotas.js";
import { guardrailsSection, reposSection } from "./policy-repos-guardrails.js";
import { savePanel } from "./policy-save.js";
import type { SectionContext } from "./policy-section.js";
import { validation } from "./policy-validation.js";
import { ConfigFileAnswer } from "../schemas/policy.js";

const SECTIONS = [quotasSection, grantsSection, reposSection, guardrailsSection, providersSection];
const RAW_DEBOUNCE_MS = 300;

function rawView(draft: Draft): HTMLElement {
  const id = uid("raw");
  const area = el("textarea", { attrs: { id, rows: 24, spellcheck: "false", "data-raw": "" } });
  area.value = draft.text;
  let timer: number | undefined;
  area.addEventListener("input", () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(() => draft.replace(area.value), RAW_DEBOUNCE_MS);
  });
  draft.onChange((kind) => {
    if (kind === "raw") return;
    // A form edit or a reload wins over raw typing not yet applied.
    window.clearTimeout(timer);
    area.value = draft.text;
  });
  return el(
    "details",
    { class: "raw" },
    el("summary", { text: "Raw file (everything else: routes, hooks, rate limits, comments…)" }),
    el("label", { text: "The config file (HuJSON: JSON with comments and trailing commas)", attrs: { for: id } }),
    area,
  );
}

/** Redraws the sections from the draft; focus returns to the section the admin was working in. */
function drawSections(draft: Draft, container: HTMLElement): void {
  const active = document.activeElement?.closest<HTMLElement>("[data-section]")?.dataset.section;
  const ctx: SectionContext = { draft, config: draft.value() };
  container.replaceChildren(...SECTIONS.map((s) => s(ctx)));
  if (active) container.querySelector<HTMLElement>(`[data-section="${active}"] .add-form input`)?.focus();
}

function jumpLinks(): HTMLElement {
  const links: [string, string][] = [["quotas", "Quotas"], ["grants", "Grants"], ["github", "Repositories"], ["guardrails", "Guardrails"], ["providers", "Providers"], ["explain", "What would happen"], ["history", "History"]];
  return el("nav", { class: "jump", attrs: { "aria-label": "Editor sections" } }, ...links.map(([key, text]) => el("a", { text, attrs: { href: `#policy-${key}-h` } })));
}

async function start(root: HTMLElement): Promise<void> {
  const file = await api(ConfigFileAnswer, "GET", "/api/config");
  if (!file.ok) {
    root.replaceChildren(el("p", { class: "bad", text: `The config cannot be edited here: ${file.error.message}` }));
    return;
  }
  const draft = new Draft({ text: file.value.config, hash: file.value.hash });
  const sections = el("div", { class: "sections" });
  const checks = validation(draft, sections);
  const history = historyPanel(draft);
  draft.onChange((kind: ChangeKind) => {
    if (kind === "field") return;
    drawSections(draft, sections);
    checks.redraw();
  });
  drawSections(draft, sections);
  root.replaceChildren(
    el("p", { class: "muted", text: `Editing ${file.value.path}. Edits change the file's text in place, so its comments and layout stay.` }),
    jumpLinks(),
    el("div", { class: "policy-grid" }, el("div", { class: "policy-main" }, sections, rawView(draft)), el("aside", { class: "policy-side", attrs: { "aria-label": "Check and save" } }, checks.element, savePanel(draft, () => void history.reload()))),
    explainPanel(draft.value()),
    history.element,
  );
  await history.reload();
}

/** The editor's feature: runs where the page has a [data-policy-editor] frame. */
export function policyEditor(doc: Document): void {
  const root = doc.querySelector<HTMLElement>("[data-policy-editor]");
  if (root) void start(root);
}
