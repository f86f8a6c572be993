import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError, parseConfigText } from "../../gateway/config/load.js";
import { formatDollars, parseDollars, parseDuration, parseSize } from "../../gateway/config/units.js";

const problems = (text: string, env: Record<string, string> = {}): string[] => {
  try {
    parseConfigText(text, env);
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  return [];
};

describe("config loading", () => {
  it("accepts HuJSON: comments and trailing commas", () => {
    const { config, hash } = parseConfigText(`{
      // a comment
      "providers": { "a": { "type": "anthropic", "baseurl": "https://api.anthropic.com", "apikey": "k", "models": ["claude-*"], }, },
    }`, {});
    assert.equal(config.providers.a?.type, "anthropic");
    assert.equal(config.identity.type, "local");
    assert.match(hash, /^[0-9a-f]{64}$/);
  });

  it("names every error by its path", () => {
    const found = problems(`{"providers": {"anthropic": {"type": "anthropic", "baseurl": "not a url", "apikey": "k", "models": []}}, "basurl": 1}`);
    assert.ok(found.includes("providers.anthropic.baseurl: expected URL"), found.join("\n"));
    assert.ok(found.some((p) => p.startsWith("providers.anthropic.models:")), found.join("\n"));
    assert.ok(found.includes('unknown config key "basurl"'), found.join("\n"));
  });

  it("drops a baseurl's trailing /v1 (Aperture's self-hosted guide writes one) and says so", () => {
    const { config, warnings } = parseConfigText(`{"providers": {"o": {"type": "openai", "baseurl": "https://api.openai.com/v1/", "apikey": "k", "models": ["*"]}}}`, {});
    assert.equal(config.providers.o?.baseurl, "https://api.openai.com");
    assert.deepEqual(warnings, ['providers.o.baseurl: "https://api.openai.com/v1/": the trailing API version is dropped, keyless appends it to every path']);
  });

  it("substitutes ${ENV}, with defaults, and names a missing variable", () => {
    const text = `{"providers": {"a": {"type": "anthropic", "baseurl": "https://api.anthropic.com", "apikey": "\${KEY}", "models": ["\${MODELS:-claude-*}"]}}}`;
    const { config } = parseConfigText(text, { KEY: "sk-1" });
    const a = config.providers.a;
    assert.ok(a?.type === "anthropic");
    assert.equal(a.apikey, "sk-1");
    assert.deepEqual(config.providers.a?.models, ["claude-*"]);
    assert.deepEqual(problems(text), ["providers.a.apikey: environment variable KEY is not set"]);
  });

  it("reports syntax errors with line and column", () => {
    assert.match(problems(`{\n  "listen": ,\n}`)[0] ?? "", /^2:\d+: /);
  });

  it("parses units exactly", () => {
    assert.equal(parseDollars("$10.00"), 10_000_000_000);
    assert.equal(parseDollars("$0.000000001"), 1);
    assert.equal(parseDollars("10"), null);
    assert.equal(formatDollars(1_234_500_000), "$1.2345");
    assert.equal(formatDollars(-5_000_000_000), "-$5.00");
    assert.equal(parseSize("1MiB"), 1048576);
    assert.equal(parseDuration("30d"), 30 * 86_400_000);
    assert.equal(parseDuration("250ms"), 250);
  });
});

describe("embedded defaults", () => {
  it("examples/keyless.jsonc starts from the embedded defaults", async () => {
    const { readFileSync } = await import("node:fs");
    const { DEFAULT_CONFIG_TEXT } = await import("../../gateway/config/defaults.js");
    const env = { ANTHROPIC_API_KEY: "a", OPENAI_API_KEY: "o", GEMINI_API_KEY: "g" };
    const embedded = parseConfigText(DEFAULT_CONFIG_TEXT, env).config;
    const example = parseConfigText(readFileSync(new URL("../../examples/keyless.jsonc", import.meta.url), "utf8"), env).config;
    assert.deepEqual(example, embedded);
    assert.equal(embedded.identity.type, "local");
    assert.equal(parseConfigText(DEFAULT_CONFIG_TEXT, {}).config.providers.anthropic?.type, "anthropic", "runs with no key set");
  });
});
