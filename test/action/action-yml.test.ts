// action.yml is what GitHub loads before any of our code runs: it must parse as YAML with every parser GitHub or a
// user's tooling might use, satisfy GitHub's action schema and SchemaStore's, and agree with the code (every input read,
// defaults meaning the same as empty, every output documented) and with docs/action.md.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { type Token, type Tokens, lexer } from "marked";
import YAML from "yaml";
import { INPUT_NAMES, RENAMED_INPUTS, readInputs } from "../../action/inputs.js";
import {
  ACTION_YML,
  githubActionErrors,
  parseYaml,
  pyYamlLoad,
  readActionYml,
  schemaStoreActionErrors,
} from "./metadata.js";

const text = readFileSync(ACTION_YML, "utf8");

test("action.yml parses with the yaml package, and PyYAML reads the same document", (t) => {
  const doc = parseYaml(text, "action.yml");
  const py = pyYamlLoad(fileURLToPath(ACTION_YML));
  if (py === null) return t.skip("python3 has no yaml module here");
  assert.deepEqual(py, doc);
});

test("the parsers refuse what broke action.yml before (a plain scalar holding ': ')", () => {
  const broken = text.replace('"Tailnet hostname of this runner. Empty: ci-<repo>-<run id>-<run attempt>."', "Tailnet hostname. Empty: ci-<repo>");
  assert.notEqual(broken, text, "the hostname description is still there to break");
  assert.throws(() => parseYaml(broken, "action.yml"), /Nested mappings are not allowed in compact mappings/);
  assert.match(githubActionErrors(broken).join("\n"), /Nested mappings are not allowed/);
});

test("GitHub's action schema accepts action.yml (runs on node24, a Marketplace icon)", () => {
  assert.deepEqual(githubActionErrors(text), []);
  assert.match(githubActionErrors(text.replace("icon: shield", "icon: key")).join("\n"), /Unexpected value 'key'/);
});

test("SchemaStore's github-action schema accepts action.yml", () => {
  // @action-validator/core 0.6.0 bundles a SchemaStore schema from before node24 (it lists node12, node16, node20), so
  // runs.using is left to GitHub's schema above and everything else is checked here.
  const asNode20 = YAML.stringify({ ...readActionYml(), runs: { ...readActionYml().runs, using: "node20" } });
  assert.deepEqual(schemaStoreActionErrors(asNode20), []);
  const typo = YAML.stringify({ ...readActionYml(), runs: { ...readActionYml().runs, using: "node20" }, inputs: { x: { description: "d", defualt: "1" } } });
  assert.match(schemaStoreActionErrors(typo).join("\n"), /Additional property 'defualt'/);
});

test("runs on node24 with main and post in dist/, branded with a Feather icon", () => {
  const a = readActionYml();
  assert.deepEqual(a.runs, { using: "node24", main: "dist/main.js", post: "dist/post.js" });
  assert.deepEqual(a.branding, { icon: "shield", color: "purple" });
});

test("action.yml declares exactly the inputs the code reads; only gateway is required", () => {
  const inputs = readActionYml().inputs;
  assert.deepEqual(Object.keys(inputs).sort(), [...INPUT_NAMES].sort());
  assert.deepEqual(Object.entries(inputs).filter(([, i]) => i.required).map(([n]) => n), ["gateway"]);
  for (const old of Object.keys(RENAMED_INPUTS)) assert.ok(!(old in inputs), `${old} was renamed`);
});

test("each action.yml default reads the same as the code's own default", () => {
  const inputs = readActionYml().inputs;
  const base: Record<string, string> = { gateway: "http://gw", "oauth-client-id": "kX" };
  const withDefaults = readInputs((n) => base[n] ?? inputs[n]?.default ?? "");
  const withEmpty = readInputs((n) => base[n] ?? "");
  assert.deepEqual(withDefaults, withEmpty);
});

test("tailscale/github-action's inputs keep its names and, where both have one, its defaults", () => {
  // From tailscale/github-action's action.yml (d1b6cd2): name → default.
  const theirs: Record<string, string> = {
    authkey: "",
    "oauth-client-id": "",
    audience: "",
    "oauth-secret": "",
    tags: "",
    version: "1.94.2",
    args: "",
    "tailscaled-args": "",
    hostname: "",
    timeout: "2m",
    retry: "5",
    "use-cache": "true",
    statedir: "",
    sha256sum: "",
    ping: "",
  };
  const ours = readActionYml().inputs;
  for (const [name, def] of Object.entries(theirs)) {
    const mine = ours[name];
    assert.ok(mine, `input ${name} exists`);
    // tags and hostname have keyless defaults where tailscale/github-action has none (or a runner-derived one).
    if (!["tags", "hostname"].includes(name)) assert.equal(mine.default ?? "", def, `default of ${name}`);
  }
});

/** The names in the first column of the table that follows the heading `title` in docs/action.md. */
function documented(title: string): string[] {
  const tokens = lexer(readFileSync(new URL("../../docs/action.md", import.meta.url), "utf8"));
  const at = tokens.findIndex((t) => t.type === "heading" && (t as Tokens.Heading).text === title);
  const table = tokens.slice(at).find((t): t is Tokens.Table => t.type === "table");
  assert.ok(at >= 0 && table, `docs/action.md has a "${title}" table`);
  const codes = (ts: readonly Token[]): string[] => ts.filter((t) => t.type === "codespan").map((t) => (t as Tokens.Codespan).text);
  return table.rows.flatMap((row) => codes(row[0]?.tokens ?? []));
}

test("docs/action.md documents every input and output, and nothing else", () => {
  const a = readActionYml();
  assert.deepEqual(documented("Inputs").sort(), Object.keys(a.inputs).sort());
  assert.deepEqual(documented("Outputs and environment").sort(), Object.keys(a.outputs).sort());
});

test("every output the Action sets is documented", () => {
  assert.deepEqual(Object.keys(readActionYml().outputs).sort(), [
    "base-url",
    "claude-base-url",
    "codex-base-url",
    "codex-home",
    "gemini-base-url",
    "openai-base-url",
    "session-id",
    "skipped",
  ]);
});
