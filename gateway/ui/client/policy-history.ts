// The audit history: who changed the config, when, how, and the diff; a kept version can be restored, which is a save
// of that text through PUT /api/config with the current hash (so it is audited as a change of its own).
import { api } from "./api.js";
import { button, el } from "./dom.js";
import type { Draft } from "./policy-draft.js";
import { diffBlock } from "./policy-diff-view.js";
import { type ConfigChangeSummary, ConfigFileAnswer, HistoryAnswer, HistoryEntryAnswer, Refusal, SaveAnswer } from "../schemas/policy.js";

export interface HistoryView {
  readonly element: HTMLElement;
  reload(): Promise<void>;
}

export function historyPanel(draft: Draft): HistoryView {
  const status = el("div", { attrs: { role: "status", "data-history-status": "" } });
  const body = el("div");
  const say = (text: string, bad = false, problems: readonly string[] = []) =>
    status.replaceChildren(el("p", { class: bad ? "bad" : "", text }), ...problems.map((p) => el("p", { class: "bad", text: p })));

  const restore = async (change: ConfigChangeSummary) => {
    if (draft.dirty) return say("Save or discard your edits before restoring a version.", true);
    const entry = await api(HistoryEntryAnswer, "GET", `/api/config/history/${change.id}`);
    if (!entry.ok) return say(`Could not read change ${change.id}: ${entry.error.message}`, true);
    const text = entry.value.change.text;
    if (text === null) return say(`The text of change ${change.id} was not kept.`, true);
    const current = await api(ConfigFileAnswer, "GET", "/api/config");
    if (!current.ok) return say(`Could not read the current config: ${current.error.message}`, true);
    const saved = await api(SaveAnswer, "PUT", "/api/config", { config: text, hash: current.value.hash });
    if (!saved.ok) return say(`Not restored: ${saved.error.message}`, true, Refusal.safeParse(saved.error.body).data?.problems ?? []);
    draft.reset({ text, hash: saved.value.hash });
    await reload();
    say(`Restored the version of change ${change.id}; it is recorded as a new change.`);
  };

  const row = (change: ConfigChangeSummary, newest: boolean) =>
    el(
      "tr",
      { attrs: { "data-change": change.id } },
      el("td", { text: new Date(change.ts).toISOString().slice(0, 19).replace("T", " ") + "Z" }),
      el("td", { attrs: { "data-principal": "" }, text: change.principal ?? "(file)" }),
      el("td", { text: change.source }),
      el("td", {}, el("details", {}, el("summary", { text: `${change.diff.split("\n").filter((l) => /^[+-]/.test(l)).length} lines changed` }), diffBlock(change.diff.split("\n"), `Change ${change.id}`))),
      el("td", {}, newest ? el("span", { class: "muted", text: "current" }) : change.restorable ? button("Restore", () => void restore(change), { "aria-label": `Restore the version of change ${change.id}` }) : el("span", { class: "muted", text: "text not kept" })),
    );

  const reload = async () => {
    const answer = await api(HistoryAnswer, "GET", "/api/config/history?limit=50");
    if (!answer.ok) return void body.replaceChildren(el("p", { class: "bad", text: answer.error.message }));
    const changes = answer.value.changes;
    body.replaceChildren(
      changes.length === 0
        ? el("p", { class: "muted", text: "No changes recorded yet." })
        : el(
            "table",
            { class: "history" },
            el("caption", { text: "Config changes, newest first" }),
            el("tr", {}, ...["when", "who", "how", "change", "restore"].map((t) => el("th", { text: t, attrs: { scope: "col" } }))),
            ...changes.map((c, i) => row(c, i === 0 && c.new_hash === draft.base.hash)),
          ),
    );
  };

  return {
    element: el("section", { class: "policy-history", attrs: { "aria-labelledby": "policy-history-h" } }, el("h2", { text: "History", attrs: { id: "policy-history-h" } }), status, body),
    reload,
  };
}
