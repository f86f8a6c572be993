// action.yml and the code agree: every input is read, every default means the same as an empty input, every output
// the code sets is documented, and the runtime is node24 with dist/ entry points.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { INPUT_NAMES, readInputs } from "../../action/inputs.js";

const yml = readFileSync(new URL("../../action.yml", import.meta.url), "utf8");
const section = (name: string) => yml.slice(yml.indexOf(`\n${name}:\n`) + name.length + 3).split(/\n\S/)[0]!;

function entries(name: string): Map<string, string | undefined> {
  const out = new Map<string, string | undefined>();
  let current = "";
  for (const line of section(name).split("\n")) {
    const key = /^ {2}([a-z0-9-]+):$/.exec(line);
    if (key) out.set((current = key[1]!), undefined);
    const def = /^ {4}default: ?(.*)$/.exec(line);
    if (def && current) out.set(current, def[1]!.replace(/^"(.*)"$/, "$1"));
  }
  return out;
}

test("action.yml declares exactly the inputs the code reads", () => {
  assert.deepEqual([...entries("inputs").keys()].sort(), [...INPUT_NAMES].sort());
});

test("each action.yml default reads the same as the code's own default", () => {
  const defaults = entries("inputs");
  const base = { gateway: "http://gw", "tailscale-client-id": "kX" } as Record<string, string>;
  const withDefaults = readInputs((n) => base[n] ?? defaults.get(n) ?? "");
  const withEmpty = readInputs((n) => base[n] ?? "");
  assert.deepEqual(withDefaults, withEmpty);
});

test("every output the Action sets is documented", () => {
  const documented = [...entries("outputs").keys()].sort();
  assert.deepEqual(documented, ["base-url", "claude-base-url", "codex-base-url", "codex-home", "gemini-base-url", "openai-base-url", "session-id", "skipped"]);
  for (const name of documented) assert.ok(section("outputs").includes(`  ${name}:\n    description: `), name);
});

test("runs on node24 with main and post in dist/", () => {
  const runs = section("runs");
  assert.match(runs, /using: node24/);
  assert.match(runs, /main: dist\/main\.js/);
  assert.match(runs, /post: dist\/post\.js/);
});
