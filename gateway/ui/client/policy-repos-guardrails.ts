// Repository → tag mappings (github.repos) and guardrail rule overrides (guardrails.rules.set / disable, enforce).
import { button, el, field, fieldError, select, splitList, uid } from "./dom.js";
import { asArray, asList, asObject, asString } from "./policy-draft.js";
import { type SectionContext, addForm, inputValue, namedInput, namedSelect, section } from "./policy-section.js";

const REPO = /^[A-Za-z0-9][A-Za-z0-9-]*\/(\*|[A-Za-z0-9._-]+)$/;
const SEVERITIES = ["", "low", "medium", "high", "critical"];
const RULE_ACTIONS = ["", "log", "flag", "block"];

const tagProblem = (tags: string[]) =>
  tags.length === 0 ? "list at least one tag" : tags.some((t) => !t.startsWith("tag:")) ? 'tags start with "tag:"' : null;

export function reposSection({ draft, config }: SectionContext): HTMLElement {
  const repos = asObject(asObject(config.github).repos);
  const rows = Object.entries(repos).map(([pattern, raw]) =>
    el(
      "tr",
      { attrs: { "data-repo": pattern } },
      el("th", { attrs: { scope: "row" } }, el("code", { text: pattern })),
      el(
        "td",
        {},
        field(
          `tags for ${pattern}`,
          asList(asObject(raw).tags),
          (v, input) => {
            const tags = splitList(v);
            const problem = tagProblem(tags);
            fieldError(input, problem);
            if (!problem) draft.set(["github", "repos", pattern, "tags"], tags);
          },
          {},
          true,
        ),
      ),
      el("td", {}, button("Remove", () => draft.set(["github", "repos", pattern], undefined, "structure"), { class: "secondary", "aria-label": `Remove ${pattern}` })),
    ),
  );
  const table = rows.length
    ? el("table", { class: "edit" }, el("caption", { text: "Repositories" }), el("tr", {}, ...["repository", "tags its runner must carry", "remove"].map((t) => el("th", { text: t, attrs: { scope: "col" } }))), ...rows)
    : el("p", { class: "muted", text: "No repository is mapped: CI sessions are refused." });
  const add = addForm("Map a repository", [namedInput("repository (owner/repo or owner/*)", "repo", "acme/api"), namedInput("tags", "tags", "tag:ci-<owner>-<repo>")], "Add mapping", (form) => {
    const repo = inputValue(form, "repo");
    const tags = splitList(inputValue(form, "tags"));
    if (!REPO.test(repo)) return 'Write the repository as "owner/repo" or "owner/*".';
    if (repos[repo] !== undefined) return `${repo} is mapped already: edit it above.`;
    const problem = tagProblem(tags);
    if (problem) return `Tags: ${problem}.`;
    draft.set(["github", "repos", repo], { tags }, "structure");
    return null;
  });
  return section("github", "Repositories", "Which tailnet tags a CI runner must carry to open a session for a repository; grants then name those tags.", table, add);
}

export function guardrailsSection({ draft, config }: SectionContext): HTMLElement {
  const guardrails = asObject(config.guardrails);
  const rules = asObject(guardrails.rules);
  const set = asObject(rules.set);
  const enforceId = uid("enforce");
  const enforce = el("input", { attrs: { type: "checkbox", id: enforceId } });
  enforce.checked = guardrails.enforce === true;
  enforce.addEventListener("change", () => draft.set(["guardrails", "enforce"], enforce.checked));
  const rows = Object.entries(set).map(([id, raw]) => {
    const o = asObject(raw);
    const put = (key: string, v: string) => draft.set(["guardrails", "rules", "set", id, key], v === "" ? undefined : v);
    return el(
      "tr",
      { attrs: { "data-rule": id } },
      el("th", { attrs: { scope: "row" } }, el("code", { text: id })),
      el("td", {}, select(`severity of ${id}`, asString(o.severity), SEVERITIES, (v) => put("severity", v))),
      el("td", {}, select(`action of ${id}`, asString(o.action), RULE_ACTIONS, (v) => put("action", v))),
      el("td", {}, button("Remove", () => draft.set(["guardrails", "rules", "set", id], undefined, "structure"), { class: "secondary", "aria-label": `Remove override ${id}` })),
    );
  });
  const add = addForm(
    "Override a rule",
    [namedInput("rule id", "id", "shell.rm-rf"), namedSelect("severity", "severity", SEVERITIES, ""), namedSelect("action", "action", RULE_ACTIONS, "block")],
    "Add override",
    (form) => {
      const id = inputValue(form, "id");
      if (id === "") return "Name the rule (its id, as findings show it).";
      const severity = inputValue(form, "severity");
      const action = inputValue(form, "action");
      if (severity === "" && action === "") return "Choose a severity or an action.";
      draft.set(["guardrails", "rules", "set", id], { ...(severity ? { severity } : {}), ...(action ? { action } : {}) }, "structure");
      return null;
    },
  );
  return section(
    "guardrails",
    "Guardrail rules",
    "Changes to the built-in rule catalog, for everyone. Grants can set actions per rule for their callers.",
    el("div", { class: "field check" }, enforce, el("label", { text: "Apply the catalog's block actions to every caller (enforce)", attrs: { for: enforceId } })),
    rows.length ? el("table", { class: "edit" }, el("caption", { text: "Rule overrides" }), el("tr", {}, ...["rule", "severity", "action", "remove"].map((t) => el("th", { text: t, attrs: { scope: "col" } }))), ...rows) : el("p", { class: "muted", text: "No rule overrides." }),
    field("disabled rules (ids, comma-separated)", asArray(rules.disable).filter((x) => typeof x === "string").join(", "), (v) => {
      const ids = splitList(v);
      draft.set(["guardrails", "rules", "disable"], ids.length ? ids : undefined);
    }),
    add,
  );
}
