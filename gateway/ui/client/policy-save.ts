// Review and save: the diff of the file from what was read to the draft, saved through PUT /api/config with the hash
// it was read at. A 409 means someone saved in between: their change is shown and nothing is overwritten; the admin
// can load their version and re-apply the draft's edits on top (a patch of the draft against what was read).
import { applyPatch, structuredPatch } from "diff";
import { api } from "./api.js";
import { button, el } from "./dom.js";
import type { Draft } from "./policy-draft.js";
import { changeCount, fileDiff } from "./policy-diff-view.js";
import { ConfigFileAnswer, Refusal, SaveAnswer } from "../schemas/policy.js";

export function savePanel(draft: Draft, onSaved: () => void): HTMLElement {
  const summary = el("p", { attrs: { "data-summary": "" } });
  const diffBox = el("div", { attrs: { "data-diff": "" } });
  const result = el("div", { attrs: { role: "status", "data-save-result": "" } });
  const conflictBox = el("div", { class: "conflict", attrs: { "data-conflict": "", hidden: true } });
  let showing = false;

  const refresh = () => {
    const { added, removed } = changeCount(draft.base.text, draft.text);
    summary.textContent = draft.dirty ? `Unsaved changes: ${added} line${added === 1 ? "" : "s"} added, ${removed} removed.` : "No unsaved changes.";
    saveButton.disabled = !draft.dirty;
    discardButton.disabled = !draft.dirty;
    diffBox.replaceChildren(showing ? (fileDiff(draft.base.text, draft.text, "Your changes to the file") ?? el("p", { class: "muted", text: "The draft equals the file." })) : "");
    showButton.textContent = showing ? "Hide changes" : "Show changes";
    showButton.setAttribute("aria-expanded", String(showing));
  };

  const say = (text: string, bad = false, problems: readonly string[] = []) =>
    result.replaceChildren(el("p", { class: bad ? "bad" : "", text }), problems.length ? el("ul", {}, ...problems.map((p) => el("li", { class: "bad", text: p }))) : "");

  const reapplyOnto = (theirs: { config: string; hash: string }) => {
    const patch = structuredPatch("read", "draft", draft.base.text, draft.text);
    const merged = applyPatch(theirs.config, patch);
    if (merged === false) {
      say("Your edits touch lines the other change rewrote, so they could not be re-applied. Copy what you need from the raw view, then load their version.", true);
      return;
    }
    conflictBox.hidden = true;
    showing = true;
    draft.reset({ text: theirs.config, hash: theirs.hash }, merged);
    say("Loaded the saved version and re-applied your edits: review the changes, then save.");
  };

  const conflict = async () => {
    const current = await api(ConfigFileAnswer, "GET", "/api/config");
    if (!current.ok) return say(`Someone else saved the config, and reading it again failed: ${current.error.message}`, true);
    const theirs = current.value;
    conflictBox.hidden = false;
    conflictBox.replaceChildren(
      el("h3", { text: "Someone else saved the config since you loaded it" }),
      el("p", { text: "Nothing was overwritten, and your edits are still here. What changed elsewhere:" }),
      fileDiff(draft.base.text, theirs.config, "What changed elsewhere") ?? el("p", { class: "muted", text: "(only whitespace)" }),
      button("Load their version and re-apply my edits", () => reapplyOnto(theirs)),
      button("Load their version, dropping my edits", () => {
        conflictBox.hidden = true;
        draft.reset({ text: theirs.config, hash: theirs.hash });
        say("Loaded the saved version.");
      }, { class: "secondary" }),
    );
    say("Not saved: the file changed since you loaded it.", true);
  };

  const save = async () => {
    saveButton.disabled = true;
    const answer = await api(SaveAnswer, "PUT", "/api/config", { config: draft.text, hash: draft.base.hash });
    if (answer.ok) {
      showing = false;
      draft.reset({ text: draft.text, hash: answer.value.hash });
      const restart = answer.value.restart_required.length ? ` Restart the gateway to apply ${answer.value.restart_required.join(", ")}.` : "";
      say(`Saved and applied (${answer.value.hash.slice(0, 12)}).${restart}`);
      onSaved();
      return;
    }
    if (answer.error.status === 409 && answer.error.code === "stale_hash") return conflict();
    refresh();
    say(`Not saved: ${answer.error.message}`, true, Refusal.safeParse(answer.error.body).data?.problems ?? []);
  };

  const showButton = button("Show changes", () => {
    showing = !showing;
    refresh();
  });
  const saveButton = button("Save", () => void save(), { class: "primary" });
  const discardButton = button("Discard my edits", () => {
    showing = false;
    draft.reset(draft.base);
    say("Your edits were discarded.");
  }, { class: "secondary" });
  draft.onChange(refresh);
  refresh();
  return el("section", { class: "save", attrs: { "aria-labelledby": "policy-save-h" } }, el("h2", { text: "Review and save", attrs: { id: "policy-save-h" } }), summary, el("div", { class: "buttons" }, showButton, saveButton, discardButton), diffBox, conflictBox, result);
}
