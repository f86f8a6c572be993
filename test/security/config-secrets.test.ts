// Issue 11, hole 8: a config that puts ${OPENAI_KEY} where a size belongs answered with the key's value in the error
// ("expected a size such as "1MiB", got "sk-…""), and a PostgreSQL URL's password leaked the same way. Problems now
// name the variable and the path; the value never appears: in the API's answers and in `keyless config check`.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ConfigError, parseConfigText } from "../../gateway/config/load.js";
import { type Harness, KEYS, startHarness } from "../helpers/gateway.js";

const CAP = "keyless.dev/cap/gateway";
const ALICE = "127.0.0.2";
const ENV = {
  KEYLESS_TEST_LEAK_KEY: "sk-CANARY-hole8-0123456789abcdef",
  KEYLESS_TEST_LEAK_PG: "postgres://keyless:CANARY-pg-pw-0123@db.internal:5432/keyless",
  KEYLESS_TEST_LEAK_SHORT: "q7z",
};
const SECRETS = ["sk-CANARY-hole8-0123456789abcdef", "CANARY-pg-pw-0123", "q7z"];

/** Every secret misplaced where a value is validated and would be echoed. */
function leakyConfig(base: Record<string, unknown>): string {
  return JSON.stringify({
    ...base,
    limits: { max_body: "${KEYLESS_TEST_LEAK_KEY}", upstream_timeout: "${KEYLESS_TEST_LEAK_PG}" },
    database: { ...(base.database as object), retention: "x${KEYLESS_TEST_LEAK_PG}", capture_limit: "${KEYLESS_TEST_LEAK_SHORT}" },
    quotas: { daily: { capacity: "${KEYLESS_TEST_LEAK_KEY}", rate: "${KEYLESS_TEST_LEAK_PG}" } },
  });
}

function assertNoSecret(text: string, where: string): void {
  for (const secret of SECRETS) assert.ok(!text.includes(secret), `${where} shows ${secret}: ${text}`);
}

describe("hole 8: config problems name the variable, never its value", () => {
  let h: Harness;
  before(async () => {
    Object.assign(process.env, ENV, { KEYLESS_TEST_LEAK_ANTHROPIC: KEYS.anthropic });
    h = await startHarness({
      configFile: true,
      peers: { [ALICE]: { login: "alice@example.com" } },
      config: (url) => ({
        providers: { anthropic: { type: "anthropic", baseurl: url, apikey: "${KEYLESS_TEST_LEAK_ANTHROPIC}", models: ["claude-*"] } },
        grants: [{ src: ["alice@example.com"], app: { [CAP]: [{ role: "admin" }, { models: "**" }] } }],
      }),
    });
  });
  after(() => h.close());

  it("parseConfigText: the path and ${NAME}, never the value (also a URL's password, also a short value)", () => {
    let problems: readonly string[] = [];
    try {
      parseConfigText(leakyConfig({}), ENV);
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      problems = err.problems;
    }
    const text = problems.join("\n");
    assertNoSecret(text, "parseConfigText");
    assert.match(text, /limits\.max_body: expected a size such as "1MiB", got "\$\{KEYLESS_TEST_LEAK_KEY\}"/);
    assert.match(text, /limits\.upstream_timeout: .*got "\$\{KEYLESS_TEST_LEAK_PG\}"/);
    assert.match(text, /database\.capture_limit: .*got "\$\{KEYLESS_TEST_LEAK_SHORT\}"/);
    assert.match(text, /quotas\.daily\.capacity: .*\$\{KEYLESS_TEST_LEAK_KEY\}/);
    // A literal URL's password is masked as well.
    assert.doesNotMatch(hideViaParse('{"limits": {"max_body": "postgres://u:literalpw@h/db"}}'), /literalpw/);
  });

  const api = async (method: string, path: string, body: unknown) => {
    const res = await h.fetchFrom(ALICE)(`${h.gateway.url}${path}`, { method, headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    return { status: res.status, text: await res.text() };
  };

  it("POST /api/config/validate and PUT /api/config refuse it without echoing a secret", async () => {
    const base = JSON.parse(readFileSync(h.configPath!, "utf8")) as Record<string, unknown>;
    const read = (await (await h.fetchFrom(ALICE)(`${h.gateway.url}/api/config`)).json()) as { hash: string };
    for (const [method, path, body] of [
      ["POST", "/api/config/validate", { config: leakyConfig(base) }],
      ["PUT", "/api/config", { config: leakyConfig(base), hash: read.hash }],
    ] as const) {
      const res = await api(method, path, body);
      assert.equal(res.status, 400, res.text);
      assertNoSecret(res.text, `${method} ${path}`);
      assert.match(res.text, /limits\.max_body: expected a size such as \\"1MiB\\", got \\"\$\{KEYLESS_TEST_LEAK_KEY\}\\"/);
    }
  });

  it("keyless config check prints the variable, never the value", () => {
    const file = join(mkdtempSync(join(tmpdir(), "keyless-leak-")), "keyless.json");
    writeFileSync(file, leakyConfig({}));
    const run = spawnSync(process.execPath, ["--import", "tsx", "gateway/cli.ts", "config", "check", file], { env: { ...process.env, ...ENV }, encoding: "utf8", timeout: 60_000 });
    assert.equal(run.status, 1, run.stderr);
    assertNoSecret(run.stdout + run.stderr, "keyless config check");
    assert.match(run.stderr, /limits\.max_body: expected a size such as "1MiB", got "\$\{KEYLESS_TEST_LEAK_KEY\}"/);
  });
});

function hideViaParse(text: string): string {
  try {
    parseConfigText(text, {});
    return "";
  } catch (err) {
    return err instanceof ConfigError ? err.problems.join("\n") : String(err);
  }
}
