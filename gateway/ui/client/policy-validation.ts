// Live validation: the draft is sent to POST /api/config/validate (the gateway's own zod schemas) shortly after each
// edit; problems are listed in the side panel and under the section their config key belongs to.
import { api } from "./api.js";
import { el } from "./dom.js";
import type { Draft } from "./policy-draft.js";
import { Refusal, ValidateAnswer } from "../schemas/policy.js";

const DEBOUNCE_MS = 400;

export interface ValidationView {
  readonly element: HTMLElement;
  /** Shows the last answer's problems under the sections again (after they were redrawn). */
  redraw(): void;
}

function placeProblems(root: ParentNode, problems: readonly string[]): void {
  for (const list of root.querySelectorAll<HTMLElement>("[data-problems-for]")) {
    const key = list.dataset.problemsFor ?? "";
    list.replaceChildren(...problems.filter((p) => p.split(/[.:]/)[0] === key).map((p) => el("li", { class: "bad", text: p })));
  }
}

export function validation(draft: Draft, root: ParentNode): ValidationView {
  const status = el("p", { attrs: { role: "status", "data-validation": "pending" }, text: "Checking the draft…" });
  const list = el("ul", { class: "problems", attrs: { "aria-label": "Problems in the draft" } });
  let problems: string[] = [];
  let timer: number | undefined;
  let sequence = 0;

  const show = (state: "valid" | "invalid" | "error", message: string, found: string[]) => {
    problems = found;
    status.dataset.validation = state;
    status.textContent = message;
    status.className = state === "valid" ? "" : "bad";
    list.replaceChildren(...found.map((p) => el("li", { text: p })));
    placeProblems(root, found);
  };

  const check = async () => {
    const mine = ++sequence;
    const answer = await api(ValidateAnswer, "POST", "/api/config/validate", { config: draft.text });
    if (mine !== sequence) return;
    if (answer.ok) {
      const notes = [...answer.value.warnings.map((w) => `warning: ${w}`), ...(answer.value.restart_required.length ? [`takes effect after a restart: ${answer.value.restart_required.join(", ")}`] : [])];
      show("valid", "The draft is valid.", notes);
      return;
    }
    const refusal = Refusal.safeParse(answer.error.body);
    const found = refusal.success && refusal.data.problems?.length ? refusal.data.problems : [answer.error.message];
    show(answer.error.status === 400 ? "invalid" : "error", answer.error.status === 400 ? `The draft has ${found.length} problem${found.length === 1 ? "" : "s"}: ${answer.error.message}` : `Could not check the draft: ${answer.error.message}`, found);
  };

  const schedule = () => {
    status.dataset.validation = "pending";
    window.clearTimeout(timer);
    timer = window.setTimeout(() => void check(), DEBOUNCE_MS);
  };
  draft.onChange(schedule);
  schedule();
  return {
    element: el("div", { class: "validation" }, el("h2", { text: "Validation" }), status, list),
    redraw: () => placeProblems(root, problems),
  };
}
