// docs/aperture.md is checked: every example loads with exactly the warnings it lists, imports to a keyless config
// that loads without warnings and grants the same, and every field keyless ignores is in the table.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { IGNORED_SECTIONS } from "../../gateway/config/aperture.js";
import { importAperture } from "../../gateway/config/import-aperture.js";
import { IGNORED_GRANT_FIELDS } from "../../gateway/config/grants.js";
import { parseConfigText } from "../../gateway/config/load.js";
import { effectiveRetention } from "../../gateway/config/retention.js";
import type { Config } from "../../gateway/config/schema.js";
import type { Identity } from "../../gateway/identity/types.js";
import { accessUnder, allowsModel, modelKey } from "../../gateway/access/grants.js";

const doc = readFileSync(new URL("../../docs/aperture.md", import.meta.url), "utf8");
const examples = [...doc.matchAll(/```jsonc\n(\/\/ example: (\S+)\n[\s\S]*?)```\n<!-- warns: ([^>]*) -->/g)].map((m) => ({
  name: m[2]!,
  text: m[1]!,
  warns: m[3]!.trim() === "(none)" ? [] : m[3]!.split(",").map((w) => w.trim()),
}));

const identity = (login: string): Identity => ({ principal: login, login, nodeId: "n1", nodeName: null, tags: [], groups: [], capMap: {}, addr: "100.64.0.1:1" });

/** What a config grants a caller: its role and, per provider model, whether it may call it. */
function grantsOf(config: Config, login: string) {
  const access = accessUnder(identity(login), config);
  const models = Object.entries(config.providers).flatMap(([name, p]) => p.models.map((m) => modelKey(name, m)));
  return { role: access.role, models: models.filter((k) => allowsModel(access, k)) };
}

describe("docs/aperture.md", () => {
  it("has the examples the table refers to", () => {
    assert.deepEqual(examples.map((e) => e.name), ["minimal", "default", "self-hosted", "passthrough", "google", "bedrock", "budgets-and-hooks", "retention-export"]);
  });

  for (const example of examples) {
    it(`example ${example.name}: loads with exactly the warnings it lists; its import loads clean and grants the same`, () => {
      const loaded = parseConfigText(example.text, {});
      assert.deepEqual(loaded.warnings.map((w) => w.slice(0, w.indexOf(": "))).sort(), [...example.warns].sort(), loaded.warnings.join("\n"));
      const imported = importAperture(example.text);
      const again = parseConfigText(imported, {});
      // The missing key is still missing: that warning stays, everything else was changed away.
      assert.deepEqual(again.warnings.filter((w) => !w.includes(".apikey: ")), [], imported);
      assert.equal(again.config.identity.type, "tailscale");
      for (const login of ["example-user@example.com", "someone@example.com"]) assert.deepEqual(grantsOf(again.config, login), grantsOf(loaded.config, login));
      // Display names are the one provider field the import drops (keyless never shows them).
      const named = (c: Config) => Object.fromEntries(Object.entries(c.providers).map(([n, p]) => [n, { ...p, name: undefined }]));
      assert.deepEqual(named(again.config), named(loaded.config));
      const retention = (c: Config) => effectiveRetention(c.database.retention, c.export !== undefined);
      assert.deepEqual(retention(again.config), retention(loaded.config));
    });
  }

  it("comments every line the import changed", () => {
    const lines = (name: string) => importAperture(examples.find((e) => e.name === name)!.text).split("\n");
    const commented = (all: string[], pattern: RegExp) => {
      const i = all.findIndex((l) => pattern.test(l));
      assert.ok(i > 0, `no line matches ${pattern}`);
      assert.match(all[i - 1]!, /^\s*\/\/ /, `line "${all[i]}" has no comment above it`);
    };
    const selfHosted = lines("self-hosted");
    commented(selfHosted, /"baseurl": "http:\/\/gpu-box:8080",/);
    assert.equal(selfHosted.filter((l) => /"type": "openai"/.test(l)).length, 2);
    for (const [i, l] of selfHosted.entries()) if (/"type": "openai"/.test(l)) assert.match(selfHosted[i - 1]!, /\/\/ added: Aperture entries have no type/);
    commented(selfHosted, /"type": "openai",/);
    assert.ok(selfHosted.some((l) => /^\s*"cost_basis": "openrouter",$/.test(l)), "a cost basis keyless prices from is kept");
    const bedrock = lines("bedrock");
    commented(bedrock, /^\s*"credentials": \{$/);
    commented(bedrock, /^\s*"region": "us-east-1",$/);
    assert.ok(!bedrock.some((l) => /^\s*"(apikey|authorization)":/.test(l)));
    const google = lines("google");
    commented(google, /^\s*"project": "my-project",$/);
    commented(google, /^\s*"region": "global",$/);
    assert.ok(google.some((l) => /\/\/ removed "name"/.test(l)));
    const budgets = lines("budgets-and-hooks");
    commented(budgets, /"retention": "30d",/);
    for (const field of ["enable_chat_ui", "mcp_tools", "exporters"]) assert.ok(budgets.some((l) => new RegExp(`// removed "${field}"`).test(l)), field);
    assert.ok(!budgets.some((l) => /^\s*"(enable_chat_ui|mcp_tools|exporters)"/.test(l)));
    commented(lines("default"), /^ {2}"grants": \[/);
  });

  it("lists every field keyless accepts and ignores", () => {
    for (const field of [...Object.keys(IGNORED_GRANT_FIELDS), ...Object.keys(IGNORED_SECTIONS)]) assert.ok(doc.includes(`\`${field}\``), field);
  });
});
